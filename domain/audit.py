"""The audit trail: every state-changing request and every denied one, as events."""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import uuid4

from eventsourcing.domain import Aggregate


class AuditRecord(Aggregate):
    """One audited request. It has a single event and never changes."""

    class Recorded(Aggregate.Created):
        """A request was audited: who, for which tenant and application, what, and how it ended.

        ``tenant`` is the verified tenant, or the one the caller claimed when authentication
        failed (``authenticated`` tells which); ``outcome`` is success, rejected, denied or error.
        A record names the route template and the schema id, never the request path: a path
        may hold a connector id, which an erase must leave nowhere readable.
        """

        class_version = 3

        tenant: str
        authenticated: bool
        subject: str | None
        email: str | None
        app_id: str | None
        method: str
        route: str
        schema_id: str | None
        status: int
        outcome: str
        detail: dict[str, Any] | None
        """What the request did beyond its route, when the route says: an action's
        connector, id, outcome and duration (never a secret input value)."""

        shredded: ClassVar[bool] = False

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Version 1 also kept the request path; it is not read back any more."""
            state.pop("path", None)

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            """Version 2 had no detail."""
            state["detail"] = None

    @classmethod
    def record(cls, **fields: object) -> AuditRecord:
        """A new record of one request."""
        return cls._create(cls.Recorded, id=uuid4(), **{"detail": None, **fields})
