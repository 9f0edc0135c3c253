"""Record filters: terms typed by the schema's fields, strict JSON equality."""

from __future__ import annotations

from typing import Any

import pytest

from domain.model import Field
from domain.record_query import RecordFilterError, matches, parse_where, same

FIELDS = (Field("id", "string", primary=True), Field("n", "integer"), Field("x", "number"),
          Field("on", "boolean"), Field("ids", "uuid[]"), Field("doc", "json"),
          Field("day", "date"))


def test_values_are_read_as_their_fields_type() -> None:
    assert parse_where(FIELDS, ["id:42", "n:42", "x:-0.5", "on:false", "doc:null",
                                'ids:["7b0c1f56-5bd7-4a3e-9a0b-4c1d2e3f4a5b"]',
                                "day:2026-11-23"]) == {
        "id": "42", "n": 42, "x": -0.5, "on": False, "doc": None,
        "ids": ["7b0c1f56-5bd7-4a3e-9a0b-4c1d2e3f4a5b"], "day": "2026-11-23"}
    assert parse_where(FIELDS, ["id:a:b"]) == {"id": "a:b"}  # the first colon splits
    assert parse_where(FIELDS, []) == {}


@pytest.mark.parametrize("term", ["n:4.5", 'n:"4"', "n:", "x:Infinity", "on:True", "ids:[1]",
                                  'ids:["nope"]', "day:23/11/2026", "doc:{", "id", "zz:1"])
def test_a_bad_term_is_a_violation_at_where(term: str) -> None:
    with pytest.raises(RecordFilterError) as refused:
        parse_where(FIELDS, [term])
    assert [v.pointer for v in refused.value.violations] == ["/query/where"]


@pytest.mark.parametrize(("a", "b", "equal"), [
    (True, 1, False), (1, True, False), (0, False, False), (True, True, True),
    (2, 2.0, True), ("1", 1, False), ([1, True], [1, 1], False), ([1, 2], [1, 2], True),
    ([1, 2], [2, 1], False), ({"a": [True]}, {"a": [True]}, True), ({"a": 1}, {"a": True}, False),
    ({"a": 1}, {"a": 1, "b": 2}, False), ([1], {"0": 1}, False), (None, None, True),
    ([], None, False),
])
def test_equality_is_json_equality(a: Any, b: Any, equal: bool) -> None:
    assert same(a, b) is equal


def test_a_record_matches_when_every_term_holds() -> None:
    record = {"id": "u1", "n": 1, "on": True}
    assert matches(record, {"id": "u1", "n": 1})
    assert not matches(record, {"id": "u1", "n": 2})
    assert not matches(record, {"on": 1})
    assert not matches(record, {"doc": None})  # an absent field is not null
