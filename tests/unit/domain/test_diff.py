"""Typed diffs of schema contents: each rule, the rename heuristic, and diff/apply as a property."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.diff import Breaking, Change, apply, diff
from domain.model import FIELD_TYPES, SchemaContent, fingerprint, parse_content
from tests.fixtures import seed_create

NAMES = ("id", "userId", "email", "age", "tags", "x9")


def content(*fields: dict[str, Any], **extra: Any) -> SchemaContent:
    return parse_content({"name": "S", "entityType": "account",
                          "fields": [{"name": "id", "type": "string", "primary": True},
                                     *fields]} | extra)


BASE = content({"name": "age", "type": "integer"})


def one(old: SchemaContent, new: SchemaContent) -> Change:
    (change,) = diff(old, new)
    return change


@pytest.mark.parametrize(("new", "expected", "breaks"), [
    (content({"name": "age", "type": "integer"}, {"name": "n", "type": "string",
                                                  "required": True}),
     ("added", "field", "n", None), Breaking(backward=True)),
    (content({"name": "age", "type": "integer"}, {"name": "n", "type": "string"}),
     ("added", "field", "n", None), Breaking()),
    (content(), ("removed", "field", "age", None), Breaking()),
    (content({"name": "age", "type": "number"}), ("changed", "field", "age", "type"),
     Breaking(forward=True)),
    (content({"name": "age", "type": "string"}), ("changed", "field", "age", "type"),
     Breaking(backward=True, forward=True)),
    (content({"name": "age", "type": "integer", "required": True}),
     ("changed", "field", "age", "required"), Breaking(backward=True)),
    (content({"name": "age", "type": "integer", "primary": True}),
     ("changed", "field", "age", "primary"), Breaking(backward=True, forward=True)),
    (content({"name": "age", "type": "integer", "description": "years"}),
     ("changed", "field", "age", "description"), Breaking()),
    (content({"name": "years", "type": "integer"}), ("renamed", "field", "years", None),
     Breaking()),
    (dataclasses.replace(BASE, entity_type="user"), ("changed", "schema", "entityType",
                                                      "entityType"),
     Breaking(backward=True, forward=True)),
    (dataclasses.replace(BASE, name="Other"), ("changed", "schema", "name", "name"), Breaking()),
], ids=["add-required", "add-optional", "remove-optional", "widen", "retype", "require",
        "make-primary", "describe", "rename", "entity-type", "schema-name"])
def test_each_rule(new: SchemaContent, expected: tuple[Any, ...], breaks: Breaking) -> None:
    change = one(BASE, new)
    assert (change.op, change.target, change.name, change.attribute) == expected
    assert change.breaking == breaks


def test_removing_a_required_or_primary_field() -> None:
    required = content({"name": "age", "type": "integer", "required": True})
    assert one(required, content()).breaking == Breaking(forward=True)
    keyed = content({"name": "age", "type": "integer", "primary": True})
    assert one(keyed, content()).breaking == Breaking(backward=True, forward=True)
    renamed = content({"name": "years", "type": "integer", "required": True})
    change = one(required, renamed)
    assert (change.op, change.old, change.new) == ("renamed", "age", "years")
    assert change.breaking == Breaking(backward=True, forward=True)


def test_a_rename_needs_identical_attributes() -> None:
    changes = diff(BASE, content({"name": "years", "type": "number"}))
    assert [(c.op, c.name) for c in changes] == [("removed", "age"), ("added", "years")]


def test_relationships() -> None:
    rel = {"name": "owner", "target": "account"}
    linked = content(relationships=[rel])
    added = one(content(), linked)
    assert (added.op, added.new, added.breaking) == ("added", rel | {"cardinality": "one"},
                                                      Breaking(forward=True))
    removed = one(linked, content())
    assert (removed.op, removed.breaking) == ("removed", Breaking(backward=True))
    changed = one(linked, content(relationships=[rel | {"cardinality": "many"}]))
    assert (changed.attribute, changed.old, changed.new) == ("cardinality", "one", "many")
    assert changed.breaking == Breaking(forward=True)
    narrowed = one(content(relationships=[rel | {"cardinality": "many"}]), linked)
    assert narrowed.breaking == Breaking(backward=True)
    retargeted = one(linked, content(relationships=[rel | {"target": "device"}]))
    assert retargeted.breaking == Breaking(backward=True, forward=True)


# Property: diff(a, b) applied to a gives b, and a long diff equals the composed steps ----------

fields = st.builds(
    lambda name, type_, primary, required, description: {
        "name": name, "type": type_, "primary": primary, "required": required,
        "description": description},
    st.sampled_from(NAMES), st.sampled_from(FIELD_TYPES), st.booleans(), st.booleans(),
    st.none() | st.sampled_from(("", "a", "b")),
)


@st.composite
def contents(draw: st.DrawFn) -> SchemaContent:
    drawn = draw(st.lists(fields, min_size=1, max_size=5, unique_by=lambda f: f["name"]))
    drawn[0]["primary"] = True
    rels = draw(st.lists(st.builds(
        lambda n, t, c: {"name": n, "target": t, "cardinality": c},
        st.sampled_from(("owner", "members")), st.sampled_from(("account", "group")),
        st.sampled_from(("one", "many"))), max_size=2, unique_by=lambda r: r["name"]))
    return parse_content({"name": draw(st.sampled_from(("A", "B"))),
                          "entityType": draw(st.sampled_from(("account", "user"))),
                          "fields": draw(st.permutations(drawn)), "relationships": rels})


@settings(max_examples=300)
@given(st.lists(contents(), min_size=5, max_size=5))
def test_diff_of_any_two_versions_applies_and_equals_the_composed_steps(
    versions: list[SchemaContent],
) -> None:
    first, last = versions[0], versions[-1]
    composed = first
    for before, after in itertools.pairwise(versions):
        composed = apply(composed, diff(before, after))
        assert fingerprint(apply(before, diff(before, after))) == fingerprint(after)
    assert fingerprint(apply(first, diff(first, last))) == fingerprint(last)
    assert fingerprint(composed) == fingerprint(last)
    assert diff(first, first) == [] and diff(last, apply(first, diff(first, last))) == []


def test_fingerprint_is_the_canonical_form() -> None:
    seed = parse_content(seed_create())
    shuffled = dict(seed_create())
    shuffled["fields"] = [{**f, "primary": f.get("primary", False), "description": None}
                          for f in reversed(shuffled["fields"])]
    assert fingerprint(parse_content(shuffled)) == fingerprint(seed)
    assert fingerprint(dataclasses.replace(seed, name="Other")) != fingerprint(seed)
    canonical = (  # as docs/api.md states it: sorted keys and names, defaults written out
        '{"entityType":"account","fields":['
        '{"description":null,"name":"active","primary":false,"required":false,"type":"boolean"},'
        '{"description":null,"name":"email","primary":false,"required":false,"type":"string"},'
        '{"description":null,"name":"role","primary":false,"required":false,"type":"string"},'
        '{"description":null,"name":"userId","primary":true,"required":false,"type":"string"},'
        '{"description":null,"name":"username","primary":false,"required":false,'
        '"type":"string"}],"name":"Custom REST API","relationships":[]}'
    )
    assert fingerprint(seed) == hashlib.sha256(canonical.encode()).hexdigest()
