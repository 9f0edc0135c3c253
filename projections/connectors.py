"""The connector read models: current state per connector, and every revision with its changes.

``registry_connectors`` holds one row per connector: the columns lists filter on and the state
while it has content. ``registry_connector_versions`` holds one row per revision: the state as
it was, the change texts of the revision's events, who and when. An erase deletes the content
rows and leaves one erase record, as for schemas (``projections.revisions``).

The state never holds a credential value (only the credential field names), so no row does.
Rows hold it in a plain JSON form private to this module; the API decides the wire form.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Transcoding

from domain.common import iso_timestamp
from domain.connectors.base import ConnectorEvent
from domain.connectors.connector import ConnectorRedacted
from domain.connectors.lifecycle import Erased
from domain.connectors.state import ConnectorState
from projections.db import Cursor, Database, Dialect, Row
from projections.revisions import (
    Head,
    Revision,
    RevisionTable,
    StateCodec,
    append_change,
    read_current,
    read_head,
    read_tenant,
    status_of,
)

TABLES = ("registry_connector_versions", "registry_connectors")
VERSIONS = RevisionTable("registry_connector_versions", "state")

ConnectorHead = Head
"""Version and status of a connector (the shared head of a read model)."""

_TAGS = {"sqlite": "json_each(tags)", "postgres": "jsonb_each_text(tags::jsonb)"}
"""The table function that lists a row's tags as ``key``/``value`` rows, per dialect."""


CODEC = StateCodec(ConnectorState)
"""The connector state as a row's JSON."""


def dump_state(state: ConnectorState) -> str:
    """The state of a connector with content, as stored in a row."""
    assert state.exists
    return _dump(state)


def _dump(state: ConnectorState) -> str:
    return CODEC.dump(state)


def load_state(uuid: UUID, tenant: str, erased_through: int, text: str) -> ConnectorState:
    """The inverse of :func:`dump_state` (attributes it does not know keep their default)."""
    return CODEC.load(uuid, tenant, erased_through, text)


class ConnectorStateAsJson(Transcoding):
    """A connector's state in a snapshot: the row's JSON and the columns kept beside it."""

    type = ConnectorState
    name = "connector_state"

    def encode(self, obj: ConnectorState) -> dict[str, Any]:
        return {"id": str(obj.id), "tenant": obj.tenant, "erased": obj.erased,
                "erased_through": obj.erased_through, "state": _dump(obj)}

    def decode(self, data: dict[str, Any]) -> ConnectorState:
        state = load_state(UUID(data["id"]), data["tenant"], data["erased_through"],
                           data["state"])
        return dataclasses.replace(state, erased=data["erased"])


def state_from_row(row: Row) -> ConnectorState:
    """The domain state of a current-state row."""
    return CODEC.from_row(row)


class ConnectorProjection:
    """Applies connector events to the read-model tables."""

    name = "connectors"
    version = 4
    tables: tuple[str, ...] = TABLES

    def create_tables(self, cur: Cursor) -> None:
        """Create the read-model tables if they do not exist."""
        cur.execute(
            "CREATE TABLE IF NOT EXISTS registry_connectors ("
            " uuid TEXT PRIMARY KEY, tenant TEXT NOT NULL, connector_id TEXT NOT NULL,"
            " type TEXT, provider TEXT, name TEXT, scope TEXT, owner_id TEXT, enabled INTEGER,"
            " status TEXT NOT NULL, version INTEGER NOT NULL, erased_through INTEGER NOT NULL,"
            " tags TEXT, state TEXT, oauth_expires_at TEXT)"
        )
        cur.execute(
            "CREATE INDEX IF NOT EXISTS registry_connectors_by_oauth_expiry"
            " ON registry_connectors (oauth_expires_at)"
        )
        cur.execute(
            "CREATE INDEX IF NOT EXISTS registry_connectors_by_tenant"
            " ON registry_connectors (tenant, connector_id)"
        )
        VERSIONS.create(cur)

    def apply(self, cur: Cursor, event: object) -> None:
        """Project one event (redacted ones carry nothing and change nothing).

        A revision may hold several events: each one rewrites the revision's row with the
        state after it and appends its text, so the row ends as the whole revision.
        """
        if isinstance(event, ConnectorRedacted) or not isinstance(event, ConnectorEvent):
            return
        row = cur.one("SELECT * FROM registry_connectors WHERE uuid = %s",
                      (str(event.originator_id),))
        before = state_from_row(row) if row else ConnectorState(id=event.originator_id)
        after = event.evolve(before)
        self._save_state(cur, after)
        if isinstance(event, Erased):
            VERSIONS.erase(cur, event, event.erased_versions)
        else:
            self._save_version(cur, event, after)

    def _save_state(self, cur: Cursor, state: ConnectorState) -> None:
        content = state.exists
        cur.execute(
            "INSERT INTO registry_connectors (uuid, tenant, connector_id, type, provider, name,"
            " scope, owner_id, enabled, status, version, erased_through, tags, state,"
            " oauth_expires_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
            " ON CONFLICT (uuid) DO UPDATE SET tenant = excluded.tenant, type = excluded.type,"
            " provider = excluded.provider, name = excluded.name, scope = excluded.scope,"
            " owner_id = excluded.owner_id, enabled = excluded.enabled,"
            " status = excluded.status, version = excluded.version,"
            " erased_through = excluded.erased_through, tags = excluded.tags,"
            " state = excluded.state, oauth_expires_at = excluded.oauth_expires_at",
            (
                str(state.id), state.tenant, state.connector_id, state.type, state.provider,
                state.name, state.scope if content else None, state.owner_id,
                int(state.enabled) if content else None, status_of(state), state.revision,
                state.erased_through, json.dumps(dict(state.tags)) if content else None,
                dump_state(state) if content else None, _oauth_expiry(state),
            ),
        )

    def _save_version(self, cur: Cursor, event: ConnectorEvent, state: ConnectorState) -> None:
        append_change(VERSIONS, cur, event, event.text(), dump_state(state))


def _oauth_expiry(state: ConnectorState) -> str | None:
    """When a live connector's OAuth token is due, while the registry may refresh it:
    ``None`` once a refresh failed (a user must authorise again), or without an expiry."""
    if not state.exists or state.deleted or state.oauth_refresh_needed:
        return None
    return iso_timestamp(state.oauth_token_expires_at)


def parse_tag(tag: str) -> tuple[str, str | None]:
    """A tag filter: ``key`` (any value) or ``key=value`` (tag keys never hold ``=``)."""
    key, sep, value = tag.partition("=")
    return key, value if sep else None


def _conditions(
    dialect: Dialect, tenant: str, wanted: dict[str, Any], tag: str | None
) -> tuple[str, list[Any]]:
    """The query of a tenant's connectors with content, narrowed by column values and a tag."""
    sql = "SELECT * FROM registry_connectors WHERE tenant = %s AND state IS NOT NULL"
    params: list[Any] = [tenant]
    for column, value in wanted.items():
        if value is not None:
            sql += f" AND {column} = %s"
            params.append(value)
    if tag is not None:
        key, value = parse_tag(tag)
        sql += f" AND EXISTS (SELECT 1 FROM {_TAGS[dialect]} WHERE key = %s"
        params.append(key)
        if value is not None:
            sql += " AND value = %s"
            params.append(value)
        sql += ")"
    return sql, params


class ConnectorQueries:
    """Reads of the connector read models, always scoped to one tenant."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def head(self, tenant: str, uuid: UUID) -> ConnectorHead | None:
        """Version and status of a connector: one indexed lookup, no state."""
        return read_head(self.db, "registry_connectors", tenant, uuid)

    def get(self, tenant: str, uuid: UUID) -> ConnectorState | None:
        """The current state of a connector, or ``None``."""
        row = read_current(self.db, "registry_connectors", tenant, uuid)
        return None if row is None else state_from_row(row)

    def tenant_of(self, uuid: UUID) -> str | None:
        """The tenant a connector belongs to, whoever asks; ``None`` when unknown."""
        return read_tenant(self.db, "registry_connectors", uuid)

    def schema_count(self, tenant: str, uuid: UUID) -> int:
        """How many live schemas the connector holds (0 when unknown or erased)."""
        state = self.get(tenant, uuid)
        return 0 if state is None else len(state.live_schemas)

    def page(
        self,
        tenant: str,
        *,
        type: str | None = None,
        provider: str | None = None,
        enabled: bool | None = None,
        tag: str | None = None,
        scope: str | None = None,
        include_deleted: bool = False,
        after: str | None = None,
        limit: int,
    ) -> list[ConnectorState]:
        """Connectors in id order, after the ``after`` id (``cnn_…``), at most ``limit``.

        Erased connectors never show; deleted ones only with ``include_deleted``. ``tag`` is
        ``key`` (the tag is set) or ``key=value``.
        """
        wanted = {"type": type, "provider": provider, "scope": scope,
                  "enabled": None if enabled is None else int(enabled)}
        sql, params = _conditions(self.db.dialect, tenant, wanted, tag)
        if not include_deleted:
            sql += " AND status = 'active'"
        if after is not None:
            sql += " AND connector_id > %s"
            params.append(after)
        with self.db.read() as cur:
            rows = cur.all(f"{sql} ORDER BY connector_id LIMIT %s", [*params, limit])
        return [state_from_row(row) for row in rows]

    def oauth_due(self, until: datetime) -> list[tuple[str, UUID]]:
        """Every tenant's live connectors whose OAuth token expires at ``until`` or before
        and may still be refreshed, soonest first: (tenant, uuid)."""
        with self.db.read() as cur:
            rows = cur.all("SELECT tenant, uuid FROM registry_connectors WHERE"
                           " oauth_expires_at <= %s ORDER BY oauth_expires_at",
                           (iso_timestamp(until),))
        return [(str(row["tenant"]), UUID(str(row["uuid"]))) for row in rows]

    def history(self, tenant: str, uuid: UUID) -> list[Revision]:
        """Every recorded revision, newest first."""
        return VERSIONS.history(self.db, tenant, uuid)

    def version(self, tenant: str, uuid: UUID, version: int) -> ConnectorState | None:
        """The connector as it was at ``version``, or ``None`` when there is none."""
        state = VERSIONS.state_at(self.db, tenant, uuid, version)
        return None if state is None else load_state(uuid, tenant, 0, state)
