"""Schema evolution on the wire: the diff of two versions, point-in-time and content lookups.

The parameters and bodies of ``GET …/schemas/{id}/diff``, ``?asOf=`` (get, list, history)
and ``?fingerprint=`` (list). The rules live in ``domain/diff.py`` and the read models.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar.params import QueryParameter

from api.models import Base
from api.params import Caller
from api.problems import PARAMETER_ALIASES, invalid_parameters
from api.runtime import read
from domain.common import iso_timestamp
from domain.diff import Change, diff
from domain.errors import NOT_FOUND, SchemaErasedError, SchemaNotFoundError, Violation
from domain.ids import encode_schema_id
from domain.schema import SchemaState
from projections.history import describe_changes
from projections.schemas import history_view
from projections.timeline import Moment

PARAMETER_ALIASES.update(as_of="asOf", from_version="from", to_version="to")
RFC3339 = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
           r"([Zz]|[+-][0-9]{2}:[0-9]{2})$")
MAX_VERSION = 999_999_999

AsOf = Annotated[
    str | None,
    QueryParameter(name="asOf", description="An RFC 3339 time with an offset"
                   " (`2026-01-31T12:00:00Z`): answer as the registry was then. Anything else"
                   " answers 422.", schema_extra={"format": "date-time"}, max_length=40),
]
Fingerprint = Annotated[
    str | None,
    QueryParameter(description="Only schemas whose current content has this fingerprint"
                   " (64 lowercase hex digits; anything else answers 422)",
                   pattern="^[0-9a-f]{64}$"),
]
FromVersion = Annotated[
    int | None,
    QueryParameter(name="from", description="The version to compare from (default: the one"
                   " before `to`, or `to` itself for version 1)", ge=1, le=MAX_VERSION),
]
ToVersion = Annotated[
    int | None,
    QueryParameter(name="to", description="The version to compare to (default: the current"
                   " one)", ge=1, le=MAX_VERSION),
]


def parse_as_of(value: str | None) -> str | None:
    """The ``asOf`` moment as the read models write times, or 422 at ``/query/asOf``."""
    if value is None:
        return None
    moment = None
    if re.fullmatch(RFC3339, value):
        try:
            moment = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        except ValueError:
            moment = None
    if moment is None:
        raise invalid_parameters([Violation(
            "/query/asOf", "must be an RFC 3339 date-time with an offset, e.g."
            " 2026-01-31T12:00:00Z")])
    return iso_timestamp(moment)


class BreakingOut(msgspec.Struct, rename=None):
    """Which compatibility modes a change breaks."""

    BACKWARD: bool
    FORWARD: bool


class ChangeOut(msgspec.Struct, rename="camel"):
    """One typed change between two versions (``attribute`` on ``changed`` only; ``old`` on
    all but ``added``; ``new`` on all but ``removed``)."""

    op: Literal["added", "removed", "changed", "renamed"]
    target: Literal["field", "relationship", "schema"]
    name: str
    breaking: BreakingOut
    attribute: str | msgspec.UnsetType = msgspec.UNSET
    old: Any | msgspec.UnsetType = msgspec.UNSET
    new: Any | msgspec.UnsetType = msgspec.UNSET


class DiffOut(Base):
    """The changes from one version of a schema to another, typed and as history texts."""

    id: str
    from_version: int
    to_version: int
    changes: list[ChangeOut]
    texts: list[str]


def _change_out(change: Change) -> ChangeOut:
    out = ChangeOut(op=change.op, target=change.target, name=change.name,
                    breaking=BreakingOut(change.breaking.backward, change.breaking.forward))
    if change.attribute is not None:
        out.attribute = change.attribute
    if change.op != "added":
        out.old = change.old
    if change.op != "removed":
        out.new = change.new
    return out


def diff_out(old: SchemaState, new: SchemaState) -> DiffOut:
    """The diff document of two versions (both with content)."""
    assert old.content is not None and new.content is not None
    texts = [] if old.revision == new.revision else describe_changes(
        history_view(old), history_view(new) or {})
    return DiffOut(
        id=new.schema_id, from_version=old.revision, to_version=new.revision,
        changes=[_change_out(c) for c in diff(old.content, new.content)], texts=texts,
    )


async def moment_at(caller: Caller, uuid: UUID, at: str) -> Moment:
    """The schema's latest revision at ``at``: 404 before it existed, 410 when the content
    of then was erased since."""
    moment: Moment | None = await read(
        caller.registry, caller.registry.queries.moment, caller.tenant, uuid, at)
    if moment is None:
        raise SchemaNotFoundError(NOT_FOUND)
    if moment.erased_since:
        raise SchemaErasedError(f"schema {encode_schema_id(uuid)} was erased since")
    return moment


async def state_at(caller: Caller, uuid: UUID, at: str) -> SchemaState:
    """The schema as it was at ``at``; 410 also when it was erased at that moment."""
    moment = await moment_at(caller, uuid, at)
    state: SchemaState | None = None
    if moment.status != "erased":
        state = await read(caller.registry, caller.registry.queries.version, caller.tenant,
                           uuid, moment.version)
    if state is None:
        raise SchemaErasedError(f"schema {encode_schema_id(uuid)} was erased")
    return state
