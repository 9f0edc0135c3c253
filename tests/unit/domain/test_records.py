"""Records against their schema's fields: types, formats, needed fields, drift."""

from __future__ import annotations

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
