"""The events that change a connector's content: what each changes, how history words it.

Every event of one command carries the same ``revision`` and timestamp. All of them are
*shredded*: encrypted with the connector's own data key, so an erase that destroys the key
leaves nothing readable, config and credential values included.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from domain.common import parse_timestamp
from domain.connectors.base import ConnectorEvent, change_texts, render
from domain.connectors.lifecycle import (
    Deleted,
    Erased,
    Restored,
    SchemaAttached,
    SchemaDeleted,
    SchemaDetached,
    SchemaRestored,
)
from domain.connectors.state import SCALAR_FIELDS, UNSET, ConnectorState

__all__ = [
    "ConfigKeyAdded",
    "ConfigKeyChanged",
    "ConfigKeyRemoved",
    "ConnectionTested",
    "ConnectorEvent",
    "Created",
    "CredentialsReplaced",
    "Deleted",
    "Disabled",
    "Enabled",
    "Erased",
    "FieldChanged",
    "OAuthRefreshFailed",
    "OAuthRefreshStarted",
    "OwnerChanged",
    "Renamed",
    "Restored",
    "SchemaAttached",
    "SchemaDeleted",
    "SchemaDetached",
    "SchemaRestored",
    "ScopeChanged",
    "SharedWithUser",
    "TagAdded",
    "TagRemoved",
    "UnsharedWithUser",
    "change_texts",
    "render",
]


class Created(ConnectorEvent, Aggregate.Created):
    """The connector was created. Its credentials' values are not here: they live in the
    credential it owns (saved with it); ``credential_fields`` names the fields set."""

    class_version = 4

    fields: dict[str, Any]
    credential_fields: list[str] | None
    auth_type: str | None
    token_expires_at: str | None
    """When an OAuth access token among the credentials expires (not a secret)."""

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """Version 1 kept the credential values in the event; they are not read back."""
        state["credential_fields"] = _field_names(state.pop("credentials", None))

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        """Version 2 did not say when an OAuth token expires."""
        state["token_expires_at"] = None

    @staticmethod
    def upcast_v3_v4(state: dict[str, Any]) -> None:
        """Version 3 had no compatibility mode: connectors created then had the default."""
        state["fields"]["compatibility"] = UNSET["compatibility"]

    def change(self, state: ConnectorState) -> ConnectorState:
        by = self.actor_email or self.actor_subject
        state = dataclasses.replace(
            state, app_id=self.app_id, created_at=self.timestamp, created_by=by,
            type=self.fields["type"], name=self.fields["name"], owner_id=self.fields["ownerId"],
            scope=self.fields["scope"], enabled=self.fields["enabled"],
            shared_users=tuple(self.fields["sharedUsers"]), tags=dict(self.fields["tags"]),
            config=_config_only(self.fields["config"]),
            connection_variables=tuple(self.fields.get("connectionVariables")
                                       or self.fields["config"].get(LEGACY_VARIABLES) or ()),
            **{attr: _frozen(self.fields[wire]) for wire, attr in SCALAR_FIELDS.items()},
        )
        if self.credential_fields is None:
            return dataclasses.replace(state, auth_type=self.auth_type)
        return _with_credentials(state, self.credential_fields, self.auth_type, self.timestamp,
                                 self.token_expires_at)

    def text(self) -> str:
        return "Initial creation"


class Renamed(ConnectorEvent):
    """The connector's name changed."""

    old: str
    new: str

    def change(self, state: ConnectorState) -> ConnectorState:
        return dataclasses.replace(state, name=self.new)

    def text(self) -> str:
        return f"Renamed connector: {self.old} -> {self.new}"


class ConfigKeyAdded(ConnectorEvent):
    """A config key was set that was not set before."""

    key: str
    value: Any

    def change(self, state: ConnectorState) -> ConnectorState:
        if self.key == LEGACY_VARIABLES:
            return dataclasses.replace(state, connection_variables=tuple(self.value))
        return dataclasses.replace(state, config={**state.config, self.key: self.value})

    def text(self) -> str:
        return f"Added config {self.key}"


class ConfigKeyChanged(ConnectorEvent):
    """The value of a config key changed."""

    key: str
    old: Any
    new: Any

    def change(self, state: ConnectorState) -> ConnectorState:
        if self.key == LEGACY_VARIABLES:
            return dataclasses.replace(state, connection_variables=tuple(self.new))
        return dataclasses.replace(state, config={**state.config, self.key: self.new})

    def text(self) -> str:
        return f"Changed config {self.key}: {render(self.old)} -> {render(self.new)}"


class ConfigKeyRemoved(ConnectorEvent):
    """A config key was unset."""

    key: str

    def change(self, state: ConnectorState) -> ConnectorState:
        if self.key == LEGACY_VARIABLES:
            return dataclasses.replace(state, connection_variables=())
        config = {k: v for k, v in state.config.items() if k != self.key}
        return dataclasses.replace(state, config=config)

    def text(self) -> str:
        return f"Removed config {self.key}"


class CredentialsReplaced(ConnectorEvent):
    """New credentials, stored in the credential the connector owns (saved with it); the
    state keeps their field names."""

    class_version = 3

    credential_fields: list[str]
    auth_type: str
    token_expires_at: str | None

    def change(self, state: ConnectorState) -> ConnectorState:
        return _with_credentials(state, self.credential_fields, self.auth_type, self.timestamp,
                                 self.token_expires_at)

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """Version 1 kept the credential values in the event; they are not read back."""
        state["credential_fields"] = _field_names(state.pop("credentials", None)) or []

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        """Version 2 did not say when an OAuth token expires."""
        state["token_expires_at"] = None

    def text(self) -> str:
        return "Changed credentials"


class OAuthRefreshStarted(ConnectorEvent):
    """The registry is refreshing the OAuth tokens; no other process does until ``until``
    (a lease: the version this records is the one the refresh must still find)."""

    until: str

    def change(self, state: ConnectorState) -> ConnectorState:
        return dataclasses.replace(state, oauth_refresh_until=parse_timestamp(self.until))

    def text(self) -> str:
        return "OAuth refresh started"


class OAuthRefreshFailed(ConnectorEvent):
    """The registry could not refresh the OAuth tokens (no refresh token, or the provider
    refused): a user must authorise again. ``error`` never holds a token."""

    error: str

    def change(self, state: ConnectorState) -> ConnectorState:
        return dataclasses.replace(state, oauth_refresh_needed=True, last_error=self.error,
                                   oauth_refresh_until=None)

    def text(self) -> str:
        return f"OAuth refresh failed: {self.error}"


class Enabled(ConnectorEvent):
    """The connector was switched on."""

    def change(self, state: ConnectorState) -> ConnectorState:
        return dataclasses.replace(state, enabled=True)

    def text(self) -> str:
        return "Enabled"


class Disabled(ConnectorEvent):
    """The connector was switched off: it stays, but does not sync."""

    def change(self, state: ConnectorState) -> ConnectorState:
        return dataclasses.replace(state, enabled=False)

    def text(self) -> str:
        return "Disabled"


class ScopeChanged(ConnectorEvent):
    """Who may see the connector changed: org, user or group."""

    old: str
    new: str

    def change(self, state: ConnectorState) -> ConnectorState:
        return dataclasses.replace(state, scope=self.new)

    def text(self) -> str:
        return f"Changed scope: {self.old} -> {self.new}"


class OwnerChanged(ConnectorEvent):
    """The connector passed to another owner."""

    old: str | None
    new: str

    def change(self, state: ConnectorState) -> ConnectorState:
        return dataclasses.replace(state, owner_id=self.new)

    def text(self) -> str:
        return f"Changed owner: {render(self.old)} -> {self.new}"


class SharedWithUser(ConnectorEvent):
    """One more user may see the connector."""

    user: str

    def change(self, state: ConnectorState) -> ConnectorState:
        return dataclasses.replace(state, shared_users=(*state.shared_users, self.user))

    def text(self) -> str:
        return f"Shared with user: {self.user}"


class UnsharedWithUser(ConnectorEvent):
    """A user may no longer see the connector through sharing."""

    user: str

    def change(self, state: ConnectorState) -> ConnectorState:
        users = tuple(u for u in state.shared_users if u != self.user)
        return dataclasses.replace(state, shared_users=users)

    def text(self) -> str:
        return f"Unshared with user: {self.user}"


class TagAdded(ConnectorEvent):
    """A tag was set (a changed value is recorded as removed, then added)."""

    key: str
    value: str

    def change(self, state: ConnectorState) -> ConnectorState:
        return dataclasses.replace(state, tags={**state.tags, self.key: self.value})

    def text(self) -> str:
        return f"Added tag: {self.key}"


class TagRemoved(ConnectorEvent):
    """A tag was unset."""

    key: str

    def change(self, state: ConnectorState) -> ConnectorState:
        return dataclasses.replace(state, tags={k: v for k, v in state.tags.items()
                                                if k != self.key})

    def text(self) -> str:
        return f"Removed tag: {self.key}"


class FieldChanged(ConnectorEvent):
    """Another field changed; ``field`` is its document (camelCase) name."""

    field: str
    old: Any
    new: Any

    def change(self, state: ConnectorState) -> ConnectorState:
        return dataclasses.replace(state, **{SCALAR_FIELDS[self.field]: _frozen(self.new)})

    def text(self) -> str:
        return f"Changed {self.field}: {render(self.old)} -> {render(self.new)}"


LEGACY_VARIABLES = "connectionVariables"
"""Where the universal type once kept its connection variables (inside ``config``); events
recorded then still say so, and now set the top-level ``connection_variables`` instead."""


def _config_only(config: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if key != LEGACY_VARIABLES}


class ConnectionTested(ConnectorEvent):
    """The connection was tested: the outcome, never a credential value."""

    ok: bool
    status: int
    message: str | None
    latency_ms: int | None

    def change(self, state: ConnectorState) -> ConnectorState:
        return dataclasses.replace(
            state, last_tested_at=self.timestamp, last_test_ok=self.ok,
            last_test_status=self.status, last_test_message=self.message,
            last_test_latency_ms=self.latency_ms)

    def text(self) -> str:
        return f"Tested connection: {test_outcome(self.ok, self.status)}"


TEST_OUTCOMES = {400: "not allowed", 403: "refused", 408: "timed out", 502: "failed"}
"""How history words a failed test, by its status."""


def test_outcome(ok: bool, status: int) -> str:
    """One word (and the status) for a test's outcome: ``ok``, ``refused (403)``..."""
    return "ok" if ok else f"{TEST_OUTCOMES.get(status, 'failed')} ({status})"


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def credential_field_names(credentials: Mapping[str, Any]) -> list[str]:
    """The credential fields set, as the connector records them (never their values)."""
    return sorted(key for key in credentials if key != "authType")


def token_expiry(credentials: Mapping[str, Any]) -> str | None:
    """When the OAuth access token among ``credentials`` expires (``expiresAt``), if said."""
    expires = credentials.get("expiresAt")
    return expires if isinstance(expires, str) else None


def _field_names(credentials: Any) -> list[str] | None:
    return credential_field_names(credentials) if isinstance(credentials, Mapping) else None


def _with_credentials(state: ConnectorState, names: list[str], auth_type: str | None,
                      at: datetime, token_expires_at: str | None) -> ConnectorState:
    return dataclasses.replace(
        state, auth_type=auth_type, credential_fields=tuple(names), credentials_set=True,
        credential_last_rotated_at=at, oauth_refresh_needed=False, oauth_refresh_until=None,
        oauth_token_expires_at=parse_timestamp(token_expires_at),
    )
