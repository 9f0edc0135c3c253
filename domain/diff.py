"""Typed differences between two contents of a schema, and how to apply them.

:func:`diff` lists what turns one content into another as :class:`Change` values; :func:`apply`
replays them, so ``apply(a, diff(a, b))`` has the content of ``b`` (the same fingerprint:
the order of fields and relationships is not content, as for a replace). Pure functions.

Shapes, by target:

- ``schema``: ``changed`` with ``name`` and ``attribute`` both ``name`` or ``entityType``.
- ``field``: ``added`` (``new`` is the field), ``removed`` (``old`` is the field), ``changed``
  (one change per ``attribute``: ``type``, ``primary``, ``required``, ``description``), or
  ``renamed`` (``old`` and ``new`` are the two names; ``name`` is the new one).
- ``relationship``: ``added``, ``removed``, or ``changed`` per attribute (``target``,
  ``cardinality``).

A rename is reported when a field disappears and a field with identical attributes (type,
primary, required, description) appears in the same diff; candidates pair up in the order of
the two documents. Everything else that disappears is removed, and what appears is added.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from domain.compatibility import Mode, check
from domain.model import FIELD_ATTRIBUTES, Field, Relationship, SchemaContent

Op = Literal["added", "removed", "changed", "renamed"]
Target = Literal["field", "relationship", "schema"]
RELATIONSHIP_ATTRIBUTES = ("target", "cardinality")
SCHEMA_ATTRIBUTES = {"name": "name", "entityType": "entity_type"}


@dataclass(frozen=True)
class Breaking:
    """Which compatibility directions a change breaks."""

    backward: bool = False
    """Readers of the new version cannot read every record written under the old one."""
    forward: bool = False
    """Readers of the old version cannot read every record written under the new one."""


@dataclass(frozen=True)
class Change:
    """One typed difference between two contents, with the directions it breaks."""

    op: Op
    target: Target
    name: str
    attribute: str | None = None
    old: Any = None
    new: Any = None
    breaking: Breaking = Breaking()


def breaking(change: Change, before: SchemaContent) -> Breaking:
    """The directions ``change`` breaks when it is made alone to ``before``: the rules of
    :mod:`domain.compatibility` (the ones a PUT is checked against) asked of that one step,
    once as ``BACKWARD`` and once as ``FORWARD``."""
    after = apply(before, [change])
    history = [(1, before)]
    return Breaking(bool(check(after, history, Mode.BACKWARD)),
                    bool(check(after, history, Mode.FORWARD)))


def diff(old: SchemaContent, new: SchemaContent) -> list[Change]:
    """The changes that turn ``old`` into ``new``: schema attributes, then fields (renamed,
    removed, changed, added), then relationships (removed, changed, added)."""
    changes = [
        Change("changed", "schema", key, key, getattr(old, attr), getattr(new, attr))
        for key, attr in SCHEMA_ATTRIBUTES.items() if getattr(old, attr) != getattr(new, attr)
    ]
    changes += _field_changes(old.fields, new.fields)
    changes += _relationship_changes(old.relationships, new.relationships)
    return [dataclasses.replace(c, breaking=breaking(c, old)) for c in changes]


def _attributes(field: Field) -> tuple[Any, ...]:
    return tuple(getattr(field, attr) for attr in FIELD_ATTRIBUTES)


def _field_changes(old: tuple[Field, ...], new: tuple[Field, ...]) -> list[Change]:
    old_names = {f.name for f in old}
    new_names = {f.name for f in new}
    gone = [f for f in old if f.name not in new_names]
    came = [f for f in new if f.name not in old_names]
    changes: list[Change] = []
    for vanished in list(gone):
        twin = next((f for f in came if _attributes(f) == _attributes(vanished)), None)
        if twin is not None:
            gone.remove(vanished)
            came.remove(twin)
            changes.append(
                Change("renamed", "field", twin.name, old=vanished.name, new=twin.name))
    changes += [Change("removed", "field", f.name, old=f.to_dict()) for f in gone]
    old_by_name = {f.name: f for f in old}
    for field in new:
        before = old_by_name.get(field.name)
        if before is not None:
            changes += [
                Change("changed", "field", field.name, attr, getattr(before, attr),
                       getattr(field, attr))
                for attr in FIELD_ATTRIBUTES if getattr(before, attr) != getattr(field, attr)
            ]
    changes += [Change("added", "field", f.name, new=f.to_dict()) for f in came]
    return changes


def _relationship_changes(
    old: tuple[Relationship, ...], new: tuple[Relationship, ...]
) -> list[Change]:
    old_by_name = {r.name: r for r in old}
    new_by_name = {r.name: r for r in new}
    changes = [Change("removed", "relationship", r.name, old=r.to_dict())
               for r in old if r.name not in new_by_name]
    for rel in new:
        before = old_by_name.get(rel.name)
        if before is not None:
            changes += [
                Change("changed", "relationship", rel.name, attr, getattr(before, attr),
                       getattr(rel, attr))
                for attr in RELATIONSHIP_ATTRIBUTES
                if getattr(before, attr) != getattr(rel, attr)
            ]
    changes += [Change("added", "relationship", r.name, new=r.to_dict())
                for r in new if r.name not in old_by_name]
    return changes


def apply(content: SchemaContent, changes: list[Change]) -> SchemaContent:
    """``content`` with ``changes`` made (``diff``'s output for it): removed items go, renamed
    and changed ones change in place, added ones are appended in order."""
    for change in changes:
        if change.target == "schema":
            attr = SCHEMA_ATTRIBUTES[change.name]
            content = dataclasses.replace(content, **{attr: change.new})
        elif change.target == "field":
            content = dataclasses.replace(content, fields=_apply_field(content.fields, change))
        else:
            rels = _apply_relationship(content.relationships, change)
            content = dataclasses.replace(content, relationships=rels)
    return content


def _apply_field(fields: tuple[Field, ...], change: Change) -> tuple[Field, ...]:
    if change.op == "added":
        return (*fields, Field.from_dict(change.new))
    if change.op == "removed":
        return tuple(f for f in fields if f.name != change.name)
    if change.op == "renamed":
        return tuple(dataclasses.replace(f, name=change.new) if f.name == change.old else f
                     for f in fields)
    assert change.attribute is not None
    return tuple(dataclasses.replace(f, **{change.attribute: change.new})
                 if f.name == change.name else f for f in fields)


def _apply_relationship(
    rels: tuple[Relationship, ...], change: Change
) -> tuple[Relationship, ...]:
    if change.op == "added":
        return (*rels, Relationship.from_dict(change.new))
    if change.op == "removed":
        return tuple(r for r in rels if r.name != change.name)
    assert change.attribute is not None
    return tuple(dataclasses.replace(r, **{change.attribute: change.new})
                 if r.name == change.name else r for r in rels)
