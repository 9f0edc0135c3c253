"""The credential read models: current state per credential, and every revision.

``registry_credentials`` holds one row per credential: the columns lists filter on (type,
status, expiry) and the state while it has content; ``registry_credential_versions`` one row
per revision, as for connectors (``projections.revisions``). The state never holds a data
value (only the data field names), so no row does; an erase leaves one erase record.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from domain.common import iso_timestamp
from domain.credentials.credential import CredentialRedacted
from domain.credentials.events import CredentialEvent, Erased
from domain.credentials.state import CredentialState
from projections.db import Cursor, Database, Row
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

CURRENT = "registry_credentials"
TABLES = ("registry_credential_versions", CURRENT)
VERSIONS = RevisionTable("registry_credential_versions", "state")
CODEC = StateCodec(CredentialState)


def state_from_row(row: Row) -> CredentialState:
    """The domain state of a current-state row."""
    return CODEC.from_row(row)


class CredentialProjection:
    """Applies credential events to the read-model tables."""

    name = "credentials"
    version = 2
    tables: tuple[str, ...] = TABLES

    def create_tables(self, cur: Cursor) -> None:
        """Create the read-model tables if they do not exist."""
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {CURRENT} ("
            " uuid TEXT PRIMARY KEY, tenant TEXT NOT NULL, credential_id TEXT NOT NULL,"
            " type TEXT, name TEXT, status TEXT NOT NULL, version INTEGER NOT NULL,"
            " erased_through INTEGER NOT NULL, expires_at TEXT, state TEXT)"
        )
        cur.execute(f"CREATE INDEX IF NOT EXISTS {CURRENT}_by_tenant"
                    f" ON {CURRENT} (tenant, credential_id)")
        cur.execute(f"CREATE INDEX IF NOT EXISTS {CURRENT}_by_expiry"
                    f" ON {CURRENT} (status, expires_at)")
        VERSIONS.create(cur)

    def apply(self, cur: Cursor, event: object) -> None:
        """Project one event (redacted ones carry nothing and change nothing)."""
        if isinstance(event, CredentialRedacted) or not isinstance(event, CredentialEvent):
            return
        row = cur.one(f"SELECT * FROM {CURRENT} WHERE uuid = %s", (str(event.originator_id),))
        before = state_from_row(row) if row else CredentialState(id=event.originator_id)
        after = event.evolve(before)
        content = after.exists
        cur.execute(
            f"INSERT INTO {CURRENT} (uuid, tenant, credential_id, type, name, status, version,"
            " erased_through, expires_at, state) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
            " ON CONFLICT (uuid) DO UPDATE SET tenant = excluded.tenant, type = excluded.type,"
            " name = excluded.name, status = excluded.status, version = excluded.version,"
            " erased_through = excluded.erased_through, expires_at = excluded.expires_at,"
            " state = excluded.state",
            (str(after.id), after.tenant, after.credential_id, after.type, after.name,
             status_of(after), after.revision, after.erased_through,
             iso_timestamp(after.expires_at), CODEC.dump(after) if content else None),
        )
        if isinstance(event, Erased):
            VERSIONS.erase(cur, event, event.erased_versions)
        else:
            append_change(VERSIONS, cur, event, event.text(), CODEC.dump(after))


class CredentialQueries:
    """Reads of the credential read models, scoped to one tenant (expiry reads them all)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def head(self, tenant: str, uuid: UUID) -> Head | None:
        """Version and status of a credential: one indexed lookup, no state."""
        return read_head(self.db, CURRENT, tenant, uuid)

    def get(self, tenant: str, uuid: UUID) -> CredentialState | None:
        """The current state of a credential, or ``None``."""
        row = read_current(self.db, CURRENT, tenant, uuid)
        return None if row is None else state_from_row(row)

    def tenant_of(self, uuid: UUID) -> str | None:
        """The tenant a credential belongs to, whoever asks; ``None`` when unknown."""
        return read_tenant(self.db, CURRENT, uuid)

    def page(self, tenant: str, *, type: str | None = None, include_deleted: bool = False,
             after: str | None = None, limit: int) -> list[CredentialState]:
        """Credentials in id order after the ``after`` id (``crd_…``), at most ``limit``;
        erased ones never, deleted ones only with ``include_deleted``."""
        sql = f"SELECT * FROM {CURRENT} WHERE tenant = %s AND state IS NOT NULL"
        params: list[object] = [tenant]
        if type is not None:
            sql += " AND type = %s"
            params.append(type)
        if not include_deleted:
            sql += " AND status = 'active'"
        if after is not None:
            sql += " AND credential_id > %s"
            params.append(after)
        with self.db.read() as cur:
            rows = cur.all(f"{sql} ORDER BY credential_id LIMIT %s", [*params, limit])
        return [state_from_row(row) for row in rows]

    def expiring(self, now: datetime) -> list[UUID]:
        """Every live credential, of any tenant, whose ``expiresAt`` is not after ``now``."""
        with self.db.read() as cur:
            rows = cur.all(f"SELECT uuid FROM {CURRENT} WHERE status = 'active'"
                           " AND expires_at IS NOT NULL AND expires_at <= %s ORDER BY uuid",
                           (iso_timestamp(now),))
        return [UUID(row["uuid"]) for row in rows]

    def history(self, tenant: str, uuid: UUID) -> list[Revision]:
        """Every recorded revision, newest first."""
        return VERSIONS.history(self.db, tenant, uuid)

    def version(self, tenant: str, uuid: UUID, version: int) -> CredentialState | None:
        """The credential as it was at ``version``, or ``None`` when there is none."""
        state = VERSIONS.state_at(self.db, tenant, uuid, version)
        return None if state is None else CODEC.load(uuid, tenant, 0, state)
