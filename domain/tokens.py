"""API tokens: which registered client application is calling.

A token is shown once, when it is issued; only a hash of its secret is recorded. Issuing, use
and revocation are events like any other, so the token lifecycle has a full history.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.common import Actor
from domain.errors import RegistryError


class TokenNotFoundError(RegistryError):
    """No API token with that id exists for the caller's tenant."""


class TokenRevokedError(RegistryError):
    """The API token was already revoked."""


@dataclass(frozen=True)
class TokenState:
    """An API token as its events describe it (never the secret itself)."""

    id: UUID
    tenant: str = ""
    name: str = ""
    app_id: str = ""
    secret_hash: str = ""
    created_at: datetime | None = None
    created_by: str | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None

    @property
    def revoked(self) -> bool:
        """True once revoked: the token no longer authenticates anything."""
        return self.revoked_at is not None


class ApiToken(Aggregate):
    """A client application's credential, bound to one tenant and one application id."""

    def __init__(self) -> None:
        self.state = TokenState(id=self.id)

    class Event(Aggregate.Event):
        """Base of token events: who did it, for which tenant."""

        tenant: str
        actor_subject: str
        actor_email: str | None

        shredded: ClassVar[bool] = False

        def apply(self, aggregate: Any) -> None:
            aggregate.state = self.evolve(aggregate.state)

        def evolve(self, state: TokenState) -> TokenState:
            """The state after this event."""
            return state

    class Issued(Event, Aggregate.Created):
        """A token was issued; ``secret_hash`` is SHA-256 of its random secret."""

        name: str
        app_id: str
        secret_hash: str

        def evolve(self, state: TokenState) -> TokenState:
            return dataclasses.replace(
                state,
                tenant=self.tenant,
                name=self.name,
                app_id=self.app_id,
                secret_hash=self.secret_hash,
                created_at=self.timestamp,
                created_by=self.actor_email or self.actor_subject,
            )

    class Used(Event):
        """The token authenticated a request (recorded at most once a minute)."""

        def evolve(self, state: TokenState) -> TokenState:
            return dataclasses.replace(state, last_used_at=self.timestamp)

    class Revoked(Event):
        """The token was revoked for good."""

        def evolve(self, state: TokenState) -> TokenState:
            by = self.actor_email or self.actor_subject
            return dataclasses.replace(state, revoked_at=self.timestamp, revoked_by=by)

    @classmethod
    def issue(
        cls, actor: Actor, token_id: UUID, name: str, app_id: str, secret_hash: str
    ) -> ApiToken:
        """Issue a token for the actor's tenant."""
        return cls._create(
            cls.Issued,
            id=token_id,
            tenant=actor.tenant,
            actor_subject=actor.subject,
            actor_email=actor.email,
            name=name,
            app_id=app_id,
            secret_hash=secret_hash,
        )

    def record_use(self, actor: Actor) -> None:
        """Note that the token authenticated a request."""
        self._trigger(self.Used, actor)

    def revoke(self, actor: Actor) -> None:
        """Revoke the token; revoking twice is refused."""
        if self.state.revoked:
            raise TokenRevokedError(f"API token {self.id} is already revoked")
        self._trigger(self.Revoked, actor)

    def _trigger(self, event_class: type[ApiToken.Event], actor: Actor) -> None:
        self.trigger_event(
            event_class,
            tenant=self.state.tenant,
            actor_subject=actor.subject,
            actor_email=actor.email,
        )
