"""What the schema and connector read models share: heads, revision rows and the erase rule.

Both aggregates record numbered revisions, each event stamped with its revision, tenant, time
and actor. Each read model keeps one row per revision (the change texts and the state as it
was) and a current-state row whose head (version, status, erased_through) a read checks first.
An erase deletes every content revision and keeps one erase record, so the read models hold
nothing of the erased content.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

from domain.common import iso_timestamp, parse_timestamp
from projections.db import Cursor, Database, Row
from projections.history import ERASED


class RevisionEvent(Protocol):
    """The stamp every schema and connector event carries."""

    @property
    def originator_id(self) -> UUID: ...
    @property
    def revision(self) -> int: ...
    @property
    def tenant(self) -> str: ...
    @property
    def timestamp(self) -> datetime: ...
    @property
    def actor_subject(self) -> str: ...
    @property
    def actor_email(self) -> str | None: ...


S = TypeVar("S")


class Lifecycle(Protocol):
    """The two flags a status is read from."""

    @property
    def erased(self) -> bool: ...
    @property
    def deleted(self) -> bool: ...


@dataclass(frozen=True)
class Head:
    """What a read needs before it decides: the current version and status of an aggregate."""

    version: int
    status: str
    erased_through: int


@dataclass(frozen=True)
class Revision:
    """One recorded revision: when, by whom, what changed (and how many versions an erase took)."""

    version: int
    changed_at: str
    changed_by: str
    changes: list[str]
    erased_versions: int | None


def status_of(state: Lifecycle) -> str:
    """``erased``, ``deleted`` or ``active``: the status column lists filter on."""
    return "erased" if state.erased else "deleted" if state.deleted else "active"


def read_head(db: Database, table: str, tenant: str, uuid: UUID) -> Head | None:
    """Version and status from a current-state table: one indexed lookup, no state."""
    row = db.one(
        f"SELECT version, status, erased_through FROM {table} WHERE uuid = %s AND tenant = %s",
        (str(uuid), tenant),
    )
    return None if row is None else Head(**row)


def read_current(db: Database, table: str, tenant: str, uuid: UUID) -> Row | None:
    """The whole current-state row of one aggregate of the tenant, or ``None``."""
    return db.one(f"SELECT * FROM {table} WHERE uuid = %s AND tenant = %s", (str(uuid), tenant))


def read_tenant(db: Database, table: str, uuid: UUID) -> str | None:
    """The tenant a current-state row belongs to, whoever asks; ``None`` when unknown."""
    with db.read() as cur:
        row = cur.one(f"SELECT tenant FROM {table} WHERE uuid = %s", (str(uuid),))
    return None if row is None else str(row["tenant"])


class RevisionTable:
    """One row per revision ``(uuid, version)``; ``state_column`` holds the state as it was."""

    def __init__(self, table: str, state_column: str) -> None:
        self.table = table
        self.state_column = state_column

    def create(self, cur: Cursor) -> None:
        """Create the table if it does not exist."""
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.table} ("
            " uuid TEXT NOT NULL, version INTEGER NOT NULL, tenant TEXT NOT NULL,"
            " changed_at TEXT NOT NULL, changed_by TEXT NOT NULL, changes TEXT NOT NULL,"
            f" erased_versions INTEGER, {self.state_column} TEXT, PRIMARY KEY (uuid, version))"
        )

    def upsert(
        self,
        cur: Cursor,
        event: RevisionEvent,
        changes: list[str],
        erased_versions: int | None,
        state: str | None,
    ) -> None:
        """Write the row of the event's revision, replacing what an earlier event wrote."""
        cur.execute(
            f"INSERT INTO {self.table} (uuid, version, tenant, changed_at, changed_by,"
            f" changes, erased_versions, {self.state_column}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)"
            " ON CONFLICT (uuid, version) DO UPDATE SET changed_at = excluded.changed_at,"
            " changed_by = excluded.changed_by, changes = excluded.changes,"
            " erased_versions = excluded.erased_versions,"
            f" {self.state_column} = excluded.{self.state_column}",
            (
                str(event.originator_id),
                event.revision,
                event.tenant,
                iso_timestamp(event.timestamp),
                event.actor_email or event.actor_subject,
                json.dumps(changes),
                erased_versions,
                state,
            ),
        )

    def erase(self, cur: Cursor, event: RevisionEvent, erased_versions: int) -> None:
        """Delete every content revision; keep (or add) only the erase records."""
        cur.execute(
            f"DELETE FROM {self.table} WHERE uuid = %s AND erased_versions IS NULL",
            (str(event.originator_id),),
        )
        self.upsert(cur, event, [ERASED], erased_versions, None)

    def stored(self, cur: Cursor, uuid: UUID, version: int) -> Row | None:
        """The changes and state of one revision, for the projection (any tenant)."""
        return cur.one(
            f"SELECT changes, {self.state_column} AS state FROM {self.table}"
            " WHERE uuid = %s AND version = %s",
            (str(uuid), version),
        )

    def history(self, db: Database, tenant: str, uuid: UUID) -> list[Revision]:
        """Every recorded revision, newest first."""
        with db.read() as cur:
            rows = cur.all(
                "SELECT version, changed_at, changed_by, changes, erased_versions"
                f" FROM {self.table} WHERE uuid = %s AND tenant = %s ORDER BY version DESC",
                (str(uuid), tenant),
            )
        return [_revision(row) for row in rows]

    def state_at(self, db: Database, tenant: str, uuid: UUID, version: int) -> str | None:
        """The stored state of one revision; ``None`` when there is none (or it was erased)."""
        with db.read() as cur:
            row = cur.one(
                f"SELECT {self.state_column} AS state FROM {self.table}"
                " WHERE uuid = %s AND tenant = %s AND version = %s",
                (str(uuid), tenant, version),
            )
        return None if row is None else row["state"]


def _revision(row: Row) -> Revision:
    return Revision(
        version=row["version"],
        changed_at=row["changed_at"],
        changed_by=row["changed_by"],
        changes=json.loads(row["changes"]),
        erased_versions=row["erased_versions"],
    )


def _dump_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_timestamp(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, tuple):
        return [_dump_value(item) for item in value]
    if isinstance(value, Mapping):
        return dict(value)
    return value


def _uuids(values: list[str]) -> tuple[UUID, ...]:
    return tuple(UUID(value) for value in values)


def _optional_tuple(values: list[Any] | None) -> tuple[Any, ...] | None:
    return None if values is None else tuple(values)


def _loader(annotation: str) -> Callable[[Any], Any]:
    """How a JSON value turns back into an attribute, from the attribute's annotation."""
    if annotation.startswith("datetime"):
        return parse_timestamp
    if annotation.startswith("tuple[UUID"):
        return _uuids
    if annotation.startswith("tuple"):
        return _optional_tuple
    if annotation.startswith("UUID"):
        return _optional_uuid
    return lambda value: value


def _optional_uuid(value: str | None) -> UUID | None:
    return None if value is None else UUID(value)


class StateCodec(Generic[S]):
    """A frozen state dataclass as the JSON a row holds, and back.

    Derived from the dataclass, so a new state attribute is stored without touching the
    projection. ``id``, ``tenant``, ``erased`` and ``erased_through`` live in their own
    columns; a load gives them back, and attributes the JSON lacks keep their default.
    """

    IN_COLUMNS = frozenset({"id", "tenant", "erased", "erased_through"})

    def __init__(self, state_class: type[S]) -> None:
        self.state_class = state_class
        self.loaders = {f.name: _loader(str(f.type)) for f in fields(state_class)  # type: ignore[arg-type]
                        if f.name not in self.IN_COLUMNS}

    def dump(self, state: S) -> str:
        """The state's attributes (bar the column ones) as compact JSON."""
        return json.dumps({name: _dump_value(getattr(state, name)) for name in self.loaders},
                          separators=(",", ":"))

    def from_row(self, row: Row) -> S:
        """The state of a current-state row (an erased one keeps its head alone)."""
        uuid = UUID(row["uuid"])
        if row["state"] is None:
            return self.state_class(  # type: ignore[call-arg]
                id=uuid, tenant=row["tenant"], revision=row["version"],
                erased=row["status"] == "erased", erased_through=row["erased_through"])
        return self.load(uuid, row["tenant"], row["erased_through"], row["state"])

    def load(self, uuid: UUID, tenant: str, erased_through: int, text: str) -> S:
        """The inverse of :meth:`dump`."""
        data = json.loads(text)
        values = {name: load(data[name]) for name, load in self.loaders.items() if name in data}
        return self.state_class(id=uuid, tenant=tenant,  # type: ignore[call-arg]
                                erased_through=erased_through, **values)


def append_change(table: RevisionTable, cur: Cursor, event: Any, text: str,
                  state: str) -> None:
    """Record one event of a revision: the revision's row gets the state after it and its
    text appended, so the row ends as the whole revision."""
    stored = table.stored(cur, event.originator_id, event.revision)
    changes: list[str] = json.loads(stored["changes"]) if stored else []
    if text not in changes:
        changes.append(text)
    table.upsert(cur, event, changes, None, state)
