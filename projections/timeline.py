"""When each schema revision happened, kept through erases: what point-in-time reads stand on.

``registry_schema_timeline`` has one row per revision: its time, the status it left the schema
in, and (for indexed lookups) its entity type and fingerprint. An erase deletes the rows of the
revisions it erases (their events read back redacted, so a rebuild could not make them again)
and keeps one row for itself with ``since``: the time of the first version it erased, carried
by the erase event in clear. So a read "as of" a moment tells a schema that did not exist yet
(404) from one whose content was erased since (410), live and after a rebuild alike, and keeps
nothing derived from erased content.

Times are ``iso_timestamp`` texts (UTC, microseconds, ``Z``): they compare as text in time order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.common import iso_timestamp
from domain.model import fingerprint
from domain.schema import Schema, SchemaState
from projections.db import Cursor, Database, Row
from projections.revisions import status_of

TABLE = "registry_schema_timeline"


@dataclass(frozen=True)
class Moment:
    """The revision that was a schema's latest at some moment, and the status it left;
    ``erased_since``: that revision's content was erased since (its number is then unknown)."""

    version: int
    status: str
    erased_since: bool = False


@dataclass(frozen=True)
class PageFilter:
    """The list filters of a point-in-time page (``None``: no filter)."""

    connector_id: str | None = None
    entity_type: str | None = None
    fingerprint: str | None = None
    include_deleted: bool = False


def create(cur: Cursor) -> None:
    """Create the table and its time index if they do not exist."""
    cur.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} ("
        " uuid TEXT NOT NULL, version INTEGER NOT NULL, tenant TEXT NOT NULL,"
        " changed_at TEXT NOT NULL, status TEXT NOT NULL, entity_type TEXT, fingerprint TEXT,"
        " since TEXT,"
        " PRIMARY KEY (uuid, version))"
    )
    cur.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_by_time ON {TABLE} (uuid, changed_at)")


def record(cur: Cursor, event: Schema.Event, state: SchemaState) -> None:
    """Write the row of the event's revision (the last event of a revision wins)."""
    content = state.content
    since = None
    if isinstance(event, Schema.Erased):
        since = iso_timestamp(event.erased_since)
        cur.execute(
            f"DELETE FROM {TABLE} WHERE uuid = %s AND version < %s AND status <> 'erased'",
            (str(event.originator_id), event.revision),
        )
    cur.execute(
        f"INSERT INTO {TABLE} (uuid, version, tenant, changed_at, status, entity_type,"
        " fingerprint, since) VALUES (%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (uuid, version)"
        " DO UPDATE SET changed_at = excluded.changed_at, status = excluded.status,"
        " entity_type = excluded.entity_type, fingerprint = excluded.fingerprint,"
        " since = excluded.since",
        (str(event.originator_id), event.revision, event.tenant, iso_timestamp(event.timestamp),
         status_of(state), content.entity_type if content else None,
         fingerprint(content) if content else None, since),
    )


def moment(db: Database, tenant: str, uuid: UUID, at: str) -> Moment | None:
    """The latest revision of the schema at ``at`` (an ``iso_timestamp``); ``None`` before its
    first. Two index lookups."""
    with db.read() as cur:
        erased = cur.one(
            f"SELECT version FROM {TABLE} WHERE uuid = %s AND tenant = %s"
            " AND status = 'erased' AND since <= %s AND changed_at > %s LIMIT 1",
            (str(uuid), tenant, at, at),
        )
        row = cur.one(
            f"SELECT version, status FROM {TABLE} WHERE uuid = %s AND tenant = %s"
            " AND changed_at <= %s ORDER BY version DESC LIMIT 1",
            (str(uuid), tenant, at),
        )
    if erased is not None:
        return Moment(erased["version"], "erased", erased_since=True)
    return None if row is None else Moment(row["version"], row["status"])


def page(db: Database, tenant: str, at: str, where: PageFilter, after: str | None,
         limit: int) -> list[Row]:
    """The tenant's schemas as they were at ``at``, in id order after ``after``: rows with
    ``uuid``, ``tenant`` and ``document`` (the state then, as the versions table keeps it).

    Walks the tenant's schemas in id order like the plain list, with one index lookup per
    schema for its revision at ``at``; content erased since has no version row and is skipped.
    """
    sql = (
        "SELECT s.uuid, s.tenant, v.document FROM registry_schemas s"
        f" JOIN {TABLE} t ON t.uuid = s.uuid AND t.version = (SELECT MAX(l.version)"
        f" FROM {TABLE} l WHERE l.uuid = s.uuid AND l.changed_at <= %s)"
        " JOIN registry_schema_versions v ON v.uuid = t.uuid AND v.version = t.version"
        " WHERE s.tenant = %s AND v.document IS NOT NULL"
    )
    params: list[Any] = [at, tenant]
    statuses = ("active", "deleted") if where.include_deleted else ("active",)
    sql += " AND t.status IN (" + ",".join(["%s"] * len(statuses)) + ")"
    params += statuses
    for condition, value in (("s.connector_id = %s", where.connector_id),
                             ("t.entity_type = %s", where.entity_type),
                             ("t.fingerprint = %s", where.fingerprint),
                             ("s.schema_id > %s", after)):
        if value is not None:
            sql += f" AND {condition}"
            params.append(value)
    sql += " ORDER BY s.schema_id LIMIT %s"
    params.append(limit)
    with db.read() as cur:
        return cur.all(sql, params)
