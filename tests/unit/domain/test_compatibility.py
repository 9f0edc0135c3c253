"""Compatibility rules: every rule in every mode, with the exact pointers of its violations."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from domain.compatibility import (
    DEFAULT_MODE,
    SYMMETRIC_RULES,
    Direction,
    Mode,
    check,
    effective_mode,
)
from domain.model import Field, Relationship, SchemaContent

BASE = SchemaContent(
    name="Users",
    entity_type="user",
    fields=(
        Field("id", "integer", primary=True, required=True),
        Field("name", "string", required=True),
        Field("age", "integer"),
        Field("tags", "string[]"),
    ),
    relationships=(Relationship("owner", "account"), Relationship("members", "user", "many")),
)
SYMMETRIC = {rule.__name__.replace("_", "-") for rule in SYMMETRIC_RULES}


def with_field(index: int, **changes: object) -> SchemaContent:
    fields = list(BASE.fields)
    fields[index] = replace(fields[index], **changes)  # type: ignore[arg-type]
    return replace(BASE, fields=tuple(fields))


def without_field(index: int) -> SchemaContent:
    return replace(BASE, fields=BASE.fields[:index] + BASE.fields[index + 1 :])


def with_relationship(index: int, **changes: object) -> SchemaContent:
    rels = list(BASE.relationships)
    rels[index] = replace(rels[index], **changes)  # type: ignore[arg-type]
    return replace(BASE, relationships=tuple(rels))


@dataclass(frozen=True)
class Case:
    """A candidate against BASE: the (pointer, check) pairs each direction reports.

    ``both`` holds the violations of rules that break both directions alike: a mode reports
    them once, under its first direction.
    """

    candidate: SchemaContent
    both: tuple[tuple[str, str], ...] = ()
    backward: tuple[tuple[str, str], ...] = ()
    forward: tuple[tuple[str, str], ...] = ()


CASES = {
    "add-optional-field": Case(replace(BASE, fields=(*BASE.fields, Field("email", "email")))),
    "add-required-field": Case(
        replace(BASE, fields=(*BASE.fields, Field("email", "email", required=True))),
        backward=(("/fields/4", "required-field-missing"),),
    ),
    "remove-optional-field": Case(without_field(2)),
    "remove-required-field": Case(
        without_field(1), forward=(("/fields", "required-field-missing"),)
    ),
    "make-field-required": Case(
        with_field(2, required=True), backward=(("/fields/2/required", "field-became-required"),)
    ),
    "make-field-optional": Case(
        with_field(1, required=False), forward=(("/fields/1/required", "field-became-required"),)
    ),
    "change-type": Case(
        with_field(2, type="string"),
        backward=(("/fields/2/type", "field-type-changed"),),
        forward=(("/fields/2/type", "field-type-changed"),),
    ),
    "widen-integer-to-number": Case(
        with_field(2, type="number"), forward=(("/fields/2/type", "field-type-changed"),)
    ),
    "widen-integer-array": Case(
        replace(BASE, fields=(*BASE.fields[:3], Field("tags", "integer[]"))),
        backward=(("/fields/3/type", "field-type-changed"),),
        forward=(("/fields/3/type", "field-type-changed"),),
    ),
    "scalar-to-array": Case(
        with_field(2, type="integer[]"),
        backward=(("/fields/2/type", "field-type-changed"),),
        forward=(("/fields/2/type", "field-type-changed"),),
    ),
    "field-joins-primary-key": Case(
        with_field(1, primary=True), both=(("/fields/1/primary", "primary-key-changed"),)
    ),
    "field-leaves-primary-key": Case(
        replace(
            BASE,
            fields=(
                replace(BASE.fields[0], primary=False),
                replace(BASE.fields[1], primary=True),
                *BASE.fields[2:],
            ),
        ),
        both=(
            ("/fields/0/primary", "primary-key-changed"),
            ("/fields/1/primary", "primary-key-changed"),
        ),
    ),
    "remove-primary-field": Case(
        replace(BASE, fields=(replace(BASE.fields[1], primary=True), *BASE.fields[2:])),
        both=(
            ("/fields/0/primary", "primary-key-changed"),
            ("/fields", "primary-key-changed"),
        ),
        forward=(("/fields", "required-field-missing"),),
    ),
    "change-entity-type": Case(
        replace(BASE, entity_type="person"), both=(("/entityType", "entity-type-changed"),)
    ),
    "remove-relationship": Case(
        replace(BASE, relationships=BASE.relationships[1:]),
        backward=(("/relationships", "relationship-dropped"),),
    ),
    "add-relationship": Case(
        replace(BASE, relationships=(*BASE.relationships, Relationship("team", "team"))),
        forward=(("/relationships/2", "relationship-dropped"),),
    ),
    "change-relationship-target": Case(
        with_relationship(0, target="organisation"),
        backward=(("/relationships/0/target", "relationship-target-changed"),),
        forward=(("/relationships/0/target", "relationship-target-changed"),),
    ),
    "many-to-one": Case(
        with_relationship(1, cardinality="one"),
        backward=(("/relationships/1/cardinality", "relationship-narrowed"),),
    ),
    "one-to-many": Case(
        with_relationship(0, cardinality="many"),
        forward=(("/relationships/0/cardinality", "relationship-narrowed"),),
    ),
    "change-description-and-name": Case(
        replace(with_field(2, description="Years since birth."), name="People")
    ),
    "reorder-fields": Case(replace(BASE, fields=BASE.fields[::-1])),
}


def expected(case: Case, mode: Mode) -> list[tuple[str, Direction, str]]:
    found: list[tuple[str, Direction, str]] = []
    for index, direction in enumerate(mode.directions):
        pairs = case.backward if direction is Direction.BACKWARD else case.forward
        found += [(p, direction, c) for p, c in (case.both if index == 0 else ()) + pairs]
    return found


def test_the_table_knows_which_rules_are_symmetric() -> None:
    assert {c for case in CASES.values() for _, c in case.both} == SYMMETRIC
    assert not {c for case in CASES.values() for _, c in case.backward + case.forward} & SYMMETRIC


@pytest.mark.parametrize("mode", list(Mode))
@pytest.mark.parametrize("name", list(CASES))
def test_every_rule_in_every_mode_reports_its_exact_pointers(name: str, mode: Mode) -> None:
    case = CASES[name]
    found = [(v.pointer, v.rule, v.check) for v in check(case.candidate, [(1, BASE)], mode)]
    assert found == expected(case, mode)
    assert all(v.message.endswith("(version 1)") for v in check(case.candidate, [(1, BASE)], mode))


def test_the_base_is_compatible_with_itself_in_every_mode() -> None:
    assert all(check(BASE, [(1, BASE), (2, BASE)], mode) == [] for mode in Mode)


def test_violation_document_names_the_field_and_both_types() -> None:
    [violation] = check(with_field(2, type="string"), [(3, BASE)], Mode.BACKWARD)
    assert violation.to_dict() == {
        "pointer": "/fields/2/type",
        "rule": "BACKWARD",
        "message": "field 'age' is written as integer and read as string; "
        "records written as integer cannot be read (version 3)",
    }


def test_a_removed_field_is_pointed_at_by_its_array_and_named() -> None:
    [violation] = check(without_field(1), [(2, BASE)], Mode.FORWARD)
    assert violation.pointer == "/fields"
    assert "'name'" in violation.message


V1 = BASE
V2 = without_field(2)
AGE_AS_STRING = replace(BASE, fields=(*V2.fields, Field("age", "string")))


@pytest.mark.parametrize(
    ("mode", "versions"),
    [
        (Mode.BACKWARD, []),
        (Mode.BACKWARD_TRANSITIVE, [1]),
        (Mode.FORWARD, []),
        (Mode.FORWARD_TRANSITIVE, [1]),
        (Mode.FULL, []),
        (Mode.FULL_TRANSITIVE, [1, 1]),
        (Mode.NONE, []),
    ],
)
def test_transitive_modes_check_every_past_version(mode: Mode, versions: list[int]) -> None:
    found = check(AGE_AS_STRING, [(1, V1), (2, V2)], mode)
    assert [v.pointer for v in found] == ["/fields/3/type"] * len(versions)
    assert all(v.message.endswith(f"(version {n})") for v, n in zip(found, versions, strict=True))


def test_transitive_modes_report_the_newest_version_first() -> None:
    v3 = with_field(1, required=False)
    found = check(with_field(2, type="string"), [(1, V1), (2, V2), (3, v3)], Mode.FULL_TRANSITIVE)
    assert [(v.pointer, v.rule, v.message[-11:]) for v in found] == [
        ("/fields/1/required", Direction.BACKWARD, "(version 3)"),
        ("/fields/2/type", Direction.BACKWARD, "(version 3)"),
        ("/fields/2/type", Direction.FORWARD, "(version 3)"),
        ("/fields/2/type", Direction.BACKWARD, "(version 1)"),
        ("/fields/2/type", Direction.FORWARD, "(version 1)"),
    ]


def test_no_history_means_nothing_to_break() -> None:
    assert all(check(AGE_AS_STRING, [], mode) == [] for mode in Mode)


@pytest.mark.parametrize(
    ("schema", "connector", "mode"),
    [
        (None, None, DEFAULT_MODE),
        (None, Mode.FULL, Mode.FULL),
        (Mode.NONE, Mode.FULL, Mode.NONE),
        (Mode.FORWARD, None, Mode.FORWARD),
    ],
)
def test_a_schema_mode_overrides_its_connector_default(
    schema: Mode | None, connector: Mode | None, mode: Mode
) -> None:
    assert effective_mode(schema, connector) is mode
    assert DEFAULT_MODE is Mode.BACKWARD


def test_modes_name_their_directions() -> None:
    assert {m: (m.directions, m.transitive) for m in Mode} == {
        Mode.NONE: ((), False),
        Mode.BACKWARD: ((Direction.BACKWARD,), False),
        Mode.FORWARD: ((Direction.FORWARD,), False),
        Mode.FULL: ((Direction.BACKWARD, Direction.FORWARD), False),
        Mode.BACKWARD_TRANSITIVE: ((Direction.BACKWARD,), True),
        Mode.FORWARD_TRANSITIVE: ((Direction.FORWARD,), True),
        Mode.FULL_TRANSITIVE: ((Direction.BACKWARD, Direction.FORWARD), True),
    }
