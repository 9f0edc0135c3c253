"""Auth scheme config and connection commands: the connector decides, the credentials record
their usages, all in one atomic save.

A connection change loads every credential it names (live, of the caller's tenant, or 422 at
the entry's pointer), lets the connector decide, and has each credential it starts or stops
using record so in the same save, retried while concurrent writes win. A credential delete
that races it fails on the credential's version, so ``usages`` is never wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from ulid import ULID

from domain.common import Actor
from domain.connectors.connections import credential_ids, parse_connection
from domain.connectors.connector import Connector
from domain.connectors.state import ConnectorState
from domain.credentials.credential import Credential
from domain.credentials.errors import (
    CredentialDeletedError,
    CredentialErasedError,
    CredentialNotFoundError,
)
from domain.credentials.ids import decode_credential_id
from domain.errors import StaleVersionError

if TYPE_CHECKING:
    from registry.connectors import Access

T = TypeVar("T")
CONNECTION_ID_PREFIX = "con_"


class ConnectionCommands:
    """Mixed into the application, whose connectors, credentials and save it uses."""

    if TYPE_CHECKING:  # provided by the application this is mixed into
        def _save(self, *aggregates: Any, **kwargs: Any) -> None: ...

        def _retrying(self, attempt: Callable[[], T]) -> T: ...

        def _changeable(self, access: Access, uuid: UUID, *,
                        deleted_ok: bool = False) -> Connector: ...

        def credential(self, access: Access, uuid: UUID) -> Credential: ...

    # Auth scheme configs ------------------------------------------------------------------

    def add_auth_scheme_config(self, access: Access, uuid: UUID, document: Any,
                               if_match: Collection[int] | None = None) -> ConnectorState:
        """Add an auth scheme config at the end of the connector's list."""

        def attempt() -> ConnectorState:
            connector = self._checked(access, uuid, if_match)
            connector.add_auth_scheme_config(access.actor, document)
            self._save(connector)
            return connector.state

        return self._retrying(attempt)

    def replace_auth_scheme_config(
        self, access: Access, uuid: UUID, config_id: str, document: Any,
        if_match: Collection[int] | None = None,
    ) -> tuple[ConnectorState, bool]:
        """Replace one config whole; answers the state and whether anything changed."""

        def attempt() -> tuple[ConnectorState, bool]:
            connector = self._checked(access, uuid, if_match)
            changed = connector.replace_auth_scheme_config(access.actor, config_id, document)
            if changed:
                self._save(connector)
            return connector.state, changed

        return self._retrying(attempt)

    def remove_auth_scheme_config(self, access: Access, uuid: UUID, config_id: str,
                                  if_match: Collection[int] | None = None) -> ConnectorState:
        """Remove one config; 409 while a connection uses it."""

        def attempt() -> ConnectorState:
            connector = self._checked(access, uuid, if_match)
            connector.remove_auth_scheme_config(access.actor, config_id)
            self._save(connector)
            return connector.state

        return self._retrying(attempt)

    # Connections --------------------------------------------------------------------------

    def add_connection(self, access: Access, uuid: UUID, document: Any,
                       if_match: Collection[int] | None = None) -> tuple[ConnectorState, str]:
        """Add a connection (``con_`` + ULID id); its credentials record the usage in the
        same save. Answers the state and the connection's name."""
        parsed = parse_connection(document)
        connection_id = f"{CONNECTION_ID_PREFIX}{ULID()}"

        def attempt() -> tuple[ConnectorState, str]:
            connector = self._checked(access, uuid, if_match)
            credentials = self._credentials_of(access, parsed)
            types = {crd: (c.state.type if c is not None else None)
                     for crd, c in credentials.items()}
            added = connector.add_connection(access.actor, connection_id, parsed, types)
            used = self._usage_changes(access.actor, connector, None, added, credentials)
            self._save(connector, *used)
            return connector.state, added["name"]

        return self._retrying(attempt)

    def replace_connection(self, access: Access, uuid: UUID, name: str, document: Any,
                           if_match: Collection[int] | None = None,
                           ) -> tuple[ConnectorState, str, bool]:
        """Replace a connection whole; credentials it starts or stops using record so in
        the same save. Answers the state, the (new) name and whether anything changed."""
        parsed = parse_connection(document)

        def attempt() -> tuple[ConnectorState, str, bool]:
            connector = self._checked(access, uuid, if_match)
            credentials = self._credentials_of(access, parsed)
            types = {crd: (c.state.type if c is not None else None)
                     for crd, c in credentials.items()}
            before = _named(connector.state, name)
            changed = connector.replace_connection(access.actor, name, parsed, types)
            if changed:
                after = _named(connector.state, parsed["name"])
                old = self._loaded(access, credential_ids(before))
                used = self._usage_changes(access.actor, connector, before, after,
                                           {**old, **credentials})
                self._save(connector, *used)
            return connector.state, parsed["name"], changed

        return self._retrying(attempt)

    def remove_connection(self, access: Access, uuid: UUID, name: str,
                          if_match: Collection[int] | None = None) -> ConnectorState:
        """Remove a connection; its credentials are released in the same save."""

        def attempt() -> ConnectorState:
            connector = self._checked(access, uuid, if_match)
            removed = connector.remove_connection(access.actor, name)
            credentials = self._loaded(access, credential_ids(removed))
            released = self._usage_changes(access.actor, connector, removed, None,
                                           credentials)
            self._save(connector, *released)
            return connector.state

        return self._retrying(attempt)

    def release_connections(self, access: Access, connector: Connector) -> list[Credential]:
        """Every credential the connector's connections use, released (for an erase, which
        saves them with the connector). Call before the connector's own erase."""
        released: dict[str, Credential] = {}
        for connection in connector.state.connections:
            credentials = self._loaded(access, credential_ids(connection))
            for credential in credentials.values():
                if credential is None:
                    continue
                crd = credential.state.credential_id
                credential = released.get(crd, credential)
                if credential.release(access.actor, connector.id, connection["id"],
                                      connection["name"]):
                    released[crd] = credential
        return list(released.values())

    # Helpers ------------------------------------------------------------------------------

    def _checked(self, access: Access, uuid: UUID,
                 if_match: Collection[int] | None) -> Connector:
        connector = self._changeable(access, uuid)
        if if_match is not None and connector.state.revision not in if_match:
            raise StaleVersionError(connector.state.revision)
        return connector

    def _credentials_of(self, access: Access,
                        connection: Mapping[str, Any]) -> dict[str, Credential | None]:
        """Each credential the connection names, or ``None`` for one the caller may not use
        (unknown, another tenant's, deleted, erased or a connector's own: the connector then
        answers 422)."""
        found: dict[str, Credential | None] = {}
        for crd in sorted(credential_ids(connection)):
            found[crd] = self._usable(access, crd)
        return found

    def _usable(self, access: Access, crd: str) -> Credential | None:
        uuid = decode_credential_id(crd)
        if uuid is None:
            return None
        try:
            credential = self.credential(access, uuid)
            state = credential.visible_state()
        except (CredentialNotFoundError, CredentialDeletedError, CredentialErasedError):
            return None
        # A connector's own (inline) credentials serve that connector alone: they change
        # and go with it, so no connection may come to depend on them.
        return None if state.connector_id is not None else credential

    def _loaded(self, access: Access, ids: set[str]) -> dict[str, Credential | None]:
        """Credentials a connection used (deleted ones included: they are released too)."""
        found: dict[str, Credential | None] = {}
        for crd in sorted(ids):
            uuid = decode_credential_id(crd)
            try:
                found[crd] = None if uuid is None else self.credential(access, uuid)
            except CredentialNotFoundError:
                found[crd] = None
        return found

    def _usage_changes(
        self, actor: Actor, connector: Connector, before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None, credentials: Mapping[str, Credential | None],
    ) -> list[Credential]:
        """The credentials that start or stop being used by one connection, with their
        ``UsedByConnection`` / ``ReleasedByConnection`` events triggered."""
        old, new = credential_ids(before), credential_ids(after)
        changed: list[Credential] = []
        for crd in sorted(old | new):
            credential = credentials.get(crd)
            if credential is None:
                continue
            if crd in new:
                assert after is not None
                credential.use(actor, connector.id, after["id"], after["name"])
            elif before is not None:
                credential.release(actor, connector.id, before["id"], before["name"])
            if credential.pending_events:
                changed.append(credential)
        return changed


def _named(state: ConnectorState, name: str) -> Mapping[str, Any]:
    return next(c for c in state.connections if c["name"] == name)
