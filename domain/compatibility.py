"""Compatibility modes of schema evolution and the rules that enforce them.

Pure functions over :class:`~domain.model.SchemaContent`: nothing here reads or records
anything. ``BACKWARD`` asks whether a reader of the *candidate* can read records written under
a past version; ``FORWARD`` whether a reader of a past version can read records written under
the candidate; ``FULL`` asks both. Transitive modes check every live past version, the others
only the current one. Each rule is its own function; the rules and their examples are
documented in ``docs/compatibility.md``.

Every violation's pointer is a JSON pointer into the candidate document. A field or
relationship that the candidate no longer has is pointed at by its array (``/fields``,
``/relationships``), and the message names it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from domain.model import Field, Relationship, SchemaContent
from domain.modes import Direction as Direction  # re-exported: the rules speak of them
from domain.modes import Mode as Mode

DEFAULT_MODE = Mode.BACKWARD
"""The mode of a schema whose own and connector's modes are unset (or whose connector is gone)."""


WIDENINGS = frozenset({("integer", "number"), ("integer[]", "number[]")})
"""Type changes a reader can always follow: (written type, read type)."""


@dataclass(frozen=True)
class Incompatibility:
    """One broken rule: where in the candidate, which direction, which check, why."""

    pointer: str
    rule: Direction
    check: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """The violation as its JSON document (``check`` is internal)."""
        return {"pointer": self.pointer, "rule": self.rule.value, "message": self.message}


@dataclass(frozen=True)
class Pair:
    """A reader and a writer version, with the candidate on one side.

    ``candidate`` is the proposed document; ``past`` a version already recorded.
    """

    candidate: SchemaContent
    past: SchemaContent
    version: int
    direction: Direction

    @property
    def reader(self) -> SchemaContent:
        """The schema reading the records."""
        return self.candidate if self.direction is Direction.BACKWARD else self.past

    @property
    def writer(self) -> SchemaContent:
        """The schema the records were written under."""
        return self.past if self.direction is Direction.BACKWARD else self.candidate

    def field_pointer(self, name: str, attribute: str | None = None) -> str:
        """Where field ``name`` (and ``attribute``) is in the candidate; ``/fields`` if gone."""
        for index, field in enumerate(self.candidate.fields):
            if field.name == name:
                return f"/fields/{index}" + (f"/{attribute}" if attribute else "")
        return "/fields"

    def relationship_pointer(self, name: str, attribute: str | None = None) -> str:
        """Where relationship ``name`` is in the candidate; ``/relationships`` if gone."""
        for index, rel in enumerate(self.candidate.relationships):
            if rel.name == name:
                return f"/relationships/{index}" + (f"/{attribute}" if attribute else "")
        return "/relationships"

    def violation(self, pointer: str, check: str, message: str) -> Incompatibility:
        """A violation of this pair's direction, its message naming the past version."""
        return Incompatibility(
            pointer, self.direction, check, f"{message} (version {self.version})"
        )


Rule = Callable[[Pair], Iterator[Incompatibility]]


def _fields(schema: SchemaContent) -> dict[str, Field]:
    return {f.name: f for f in schema.fields}


def _relationships(schema: SchemaContent) -> dict[str, Relationship]:
    return {r.name: r for r in schema.relationships}


def required_field_missing(pair: Pair) -> Iterator[Incompatibility]:
    """The reader requires a field the writer does not have."""
    written = _fields(pair.writer)
    for field in pair.reader.fields:
        if field.required and field.name not in written:
            yield pair.violation(
                pair.field_pointer(field.name),
                "required-field-missing",
                f"field '{field.name}' is required by the reader but absent from the writer; "
                "records written without it cannot be read",
            )


def field_became_required(pair: Pair) -> Iterator[Incompatibility]:
    """A field optional for the writer is required by the reader."""
    written = _fields(pair.writer)
    for field in pair.reader.fields:
        before = written.get(field.name)
        if field.required and before is not None and not before.required:
            yield pair.violation(
                pair.field_pointer(field.name, "required"),
                "field-became-required",
                f"field '{field.name}' is optional for the writer but required by the reader; "
                "records written without it cannot be read",
            )


def field_type_changed(pair: Pair) -> Iterator[Incompatibility]:
    """A field's type differs between writer and reader, other than a widening."""
    written = _fields(pair.writer)
    for field in pair.reader.fields:
        before = written.get(field.name)
        if before is None or before.type == field.type:
            continue
        if (before.type, field.type) in WIDENINGS:
            continue
        yield pair.violation(
            pair.field_pointer(field.name, "type"),
            "field-type-changed",
            f"field '{field.name}' is written as {before.type} and read as {field.type}; "
            f"records written as {before.type} cannot be read",
        )


def primary_key_changed(pair: Pair) -> Iterator[Incompatibility]:
    """The set of primary fields differs: records no longer identify the same way."""
    past, candidate = _fields(pair.past), _fields(pair.candidate)
    for name, field in candidate.items():
        before = past.get(name)
        if field.primary != (before is not None and before.primary):
            yield pair.violation(
                pair.field_pointer(name, "primary"),
                "primary-key-changed",
                f"field '{name}' {'joined' if field.primary else 'left'} the primary key; "
                "records are identified differently",
            )
    for name, before in past.items():
        if before.primary and name not in candidate:
            yield pair.violation(
                "/fields",
                "primary-key-changed",
                f"primary field '{name}' was removed; records are identified differently",
            )


def entity_type_changed(pair: Pair) -> Iterator[Incompatibility]:
    """The schema describes another entity type."""
    if pair.reader.entity_type != pair.writer.entity_type:
        yield pair.violation(
            "/entityType",
            "entity-type-changed",
            f"entity type changed {pair.past.entity_type} -> {pair.candidate.entity_type}; "
            "records of one type are not records of the other",
        )


def relationship_dropped(pair: Pair) -> Iterator[Incompatibility]:
    """The writer links records through a relationship the reader does not have."""
    read = _relationships(pair.reader)
    for rel in pair.writer.relationships:
        if rel.name not in read:
            yield pair.violation(
                pair.relationship_pointer(rel.name),
                "relationship-dropped",
                f"relationship '{rel.name}' (to {rel.target}) is written but unknown to the "
                "reader; its links would be lost",
            )


def relationship_target_changed(pair: Pair) -> Iterator[Incompatibility]:
    """A relationship points at another entity type."""
    written = _relationships(pair.writer)
    for rel in pair.reader.relationships:
        before = written.get(rel.name)
        if before is not None and before.target != rel.target:
            yield pair.violation(
                pair.relationship_pointer(rel.name, "target"),
                "relationship-target-changed",
                f"relationship '{rel.name}' is written to {before.target} and read as "
                f"{rel.target}; its links point at records of another type",
            )


def relationship_narrowed(pair: Pair) -> Iterator[Incompatibility]:
    """The writer links many records where the reader expects one."""
    written = _relationships(pair.writer)
    for rel in pair.reader.relationships:
        before = written.get(rel.name)
        if before is not None and before.cardinality == "many" and rel.cardinality == "one":
            yield pair.violation(
                pair.relationship_pointer(rel.name, "cardinality"),
                "relationship-narrowed",
                f"relationship '{rel.name}' is written with many links and read with one; "
                "links would be lost",
            )


SYMMETRIC_RULES: tuple[Rule, ...] = (entity_type_changed, primary_key_changed)
"""Rules that break both directions alike: checked once per past version."""

RULES: tuple[Rule, ...] = (
    required_field_missing,
    field_became_required,
    field_type_changed,
    relationship_dropped,
    relationship_target_changed,
    relationship_narrowed,
)
"""The rules checked in each direction, in the order their violations are reported."""


def check_pair(pair: Pair, *, symmetric: bool = True) -> list[Incompatibility]:
    """Every violation of one direction against one past version.

    ``symmetric=False`` leaves out :data:`SYMMETRIC_RULES` (already reported for the other
    direction of a ``FULL`` mode).
    """
    rules = (SYMMETRIC_RULES if symmetric else ()) + RULES
    return [v for rule in rules for v in rule(pair)]


def check(
    candidate: SchemaContent,
    history: Sequence[tuple[int, SchemaContent]],
    mode: Mode,
) -> list[Incompatibility]:
    """Every violation of ``mode`` by ``candidate``.

    ``history`` holds the live (non-erased) past versions as ``(version, content)``, oldest
    first; a non-transitive mode checks the last one only. Violations come newest version
    first, then by direction (backward first), then in rule order; a rule that breaks both
    directions alike is reported once, under the first.
    """
    past = list(reversed(history)) if mode.transitive else list(history[-1:])
    return [
        violation
        for version, content in past
        for index, direction in enumerate(mode.directions)
        for violation in check_pair(
            Pair(candidate, content, version, direction), symmetric=index == 0
        )
    ]


def effective_mode(schema_mode: str | None, connector_mode: str | None) -> Mode:
    """The schema's own mode, else its connector's, else :data:`DEFAULT_MODE` (modes as
    stored: their names, ``None`` when unset)."""
    return Mode(schema_mode or connector_mode or DEFAULT_MODE)
