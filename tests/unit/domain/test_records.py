"""Records against their schema's fields: types, formats, needed fields, drift."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.model import Field
from domain.records import RecordRules, record_schema

FIELDS = (
    Field("id", "string", primary=True), Field("email", "email", required=True),
    Field("age", "integer"), Field("joined", "date"), Field("tags", "string[]"),
    Field("extra", "json"),
)
RULES = RecordRules(FIELDS)


def test_a_valid_record_passes_and_unknown_fields_are_drift() -> None:
    check = RULES.check({"id": "u1", "email": "a@example.com", "age": None,
                         "joined": "2024-02-29", "tags": ["x"], "extra": {"any": [1]},
                         "department": "sales", "title": "x"})
    assert check.valid and check.drift == ("department", "title")


def test_errors_name_the_field_and_never_the_value() -> None:
    check = RULES.check({"email": "not-an-email-SECRETVALUE", "age": "12",
                         "joined": "2024-02-30", "tags": ["ok", 3]})
    assert check.errors == (
        "/age: has the wrong type", "/email: is not in the field's format",
        "/joined: is not in the field's format", "/tags/1: has the wrong type",
        "record: a primary or required field is missing",
    )
    assert all("SECRETVALUE" not in e for e in check.errors)
    assert RULES.check(["not", "an", "object"]).errors == ("the record is not an object",)
    assert RULES.check({"id": None, "email": "a@example.com"}).errors == (
        "/id: has the wrong type",)


def test_the_document_is_json_schema_2020_12() -> None:
    document = record_schema(FIELDS)
    assert document["required"] == ["id", "email"]
    assert document["properties"]["tags"] == {"type": ["array", "null"],
                                              "items": {"type": "string"}}
    assert document["properties"]["id"] == {"type": "string"}


def test_each_format_alone_is_refused() -> None:
    base = {"id": "u1", "email": "a@example.com"}
    for field, value in (("joined", "2024-02-30"), ("email", "nobody"),
                         ("joined", "yesterday")):
        check = RULES.check(base | {field: value})
        assert check.errors == (f"/{field}: is not in the field's format",), (field, value)
    typed = RecordRules((Field("id", "uuid", primary=True), Field("at", "datetime"),
                         Field("home", "url")))
    assert typed.check({"id": "not-a-uuid"}).errors == ("/id: is not in the field's format",)
    assert typed.check({"id": "6f1c3e52-2d4b-5c8e-9a07-3b1e8d4f2a60",
                        "at": "2024-01-01T00:00:00Z", "home": "https://x.example"}).valid
    assert typed.check({"id": "6f1c3e52-2d4b-5c8e-9a07-3b1e8d4f2a60",
                        "at": "2024-01-01 00:00"}).errors == (
        "/at: is not in the field's format",)


EVERY_TYPE = RecordRules((
    Field("id", "string", primary=True), Field("n", "integer", required=True),
    Field("x", "number"), Field("ok", "boolean"), Field("day", "date"),
    Field("at", "datetime"), Field("ref", "uuid"), Field("mail", "email"),
    Field("home", "url"), Field("blob", "json"), Field("ns", "integer[]"),
))
_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False), st.just(1.0), st.text(max_size=8),
    st.sampled_from(["2024-02-29", "2024-02-30", "2024-01-01T00:00:00Z", "2024-01-01 00:00",
                     "6f1c3e52-2d4b-5c8e-9a07-3b1e8d4f2a60", "a@b", "https://x.example",
                     "not a url", "{6f1c3e52-2d4b-5c8e-9a07-3b1e8d4f2a60}"]),
    st.lists(st.one_of(st.integers(), st.text(max_size=3), st.just(2.0)), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
_NAMES = ["id", "n", "x", "ok", "day", "at", "ref", "mail", "home", "blob", "ns", "department"]
# Mostly valid records with a few fields of any value: each decision hinges on one field.
_RECORDS = st.builds(
    lambda base, changed: {**base, **changed},
    st.fixed_dictionaries({"id": st.text(max_size=4), "n": st.integers()}),
    st.dictionaries(st.sampled_from(_NAMES), _VALUES, max_size=3))


@settings(max_examples=400, deadline=None)
@given(st.lists(_RECORDS, min_size=1, max_size=5))
def test_the_checks_decide_as_the_reference_validator_does(records: list[dict[str, Any]]
                                                            ) -> None:
    # The compiled check decides; the reference validator (jsonschema) words the errors.
    # They must agree on every record, one at a time and a run at a time.
    expected = [not any(EVERY_TYPE.validator.iter_errors(r)) for r in records]
    checks = [EVERY_TYPE.check(record) for record in records]
    assert [check.valid for check in checks] == expected
    run = EVERY_TYPE.check_all(records)
    if run is None:
        assert all(expected) and not any(check.drift for check in checks)
    else:
        assert run == checks
