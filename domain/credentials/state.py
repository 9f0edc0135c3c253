"""The state of a credential after some revision, shared by the aggregate and the read models.

It never holds a data value: only the names of the data fields that are set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.common import RevisionState, iso_timestamp
from domain.credentials.ids import encode_credential_id


@dataclass(frozen=True)
class CredentialState(RevisionState):
    """Everything known about a credential after some revision (never a data value)."""

    type: str | None = None
    name: str | None = None
    expires_at: datetime | None = None
    data_fields: tuple[str, ...] = ()
    data_set: bool = False
    rotated_at: datetime | None = None
    errors: tuple[str, ...] | None = None
    """``None``: not validated yet; ``()``: valid; else what is wrong (never a value)."""
    connector_id: UUID | None = None
    """The connector that owns this credential (its inline credentials), if one does."""
    usages: tuple[Mapping[str, Any], ...] = ()
    """The connections using it: ``{connectorId (UUID text), connectionId, connectionName}``."""

    @property
    def exists(self) -> bool:
        """True while the credential has content (not never-created, not erased)."""
        return self.type is not None

    @property
    def credential_id(self) -> str:
        """The public ``crd_`` id."""
        return encode_credential_id(self.id)

    def editable(self) -> dict[str, Any]:
        """The user-controlled fields as a credential document (no data): what a PATCH is
        merged into and a PUT compared with."""
        return {"name": self.name, "type": self.type,
                "expiresAt": iso_timestamp(self.expires_at)}
