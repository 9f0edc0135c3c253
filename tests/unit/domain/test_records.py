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
