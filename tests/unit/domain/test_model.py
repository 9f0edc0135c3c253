"""The schema model: closed field types, naming rules, one validator for docs and requests."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from domain.errors import SchemaValidationError
from domain.model import FIELD_TYPES, model_documents, parse_content, validate_document
from tests.fixtures import devices, seed_create


def pointers(document: Any) -> list[str]:
    return [v.pointer for v in validate_document(document)]


def test_field_types_are_ten_scalars_and_their_arrays() -> None:
    scalars = {"string", "integer", "number", "boolean", "date", "datetime", "uuid", "email",
               "url", "json"}
    assert set(FIELD_TYPES) == scalars | {f"{t}[]" for t in scalars}


def test_model_documents_are_valid_json_schema_2020_12() -> None:
    documents = model_documents()
    assert set(documents) == {"Schema", "Field", "Relationship", "FieldType"}
    for document in documents.values():
        assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        Draft202012Validator.check_schema(document)


def test_the_published_document_accepts_what_the_api_accepts() -> None:
    validator = Draft202012Validator(model_documents()["Schema"])
    assert validator.is_valid(seed_create())
    assert validator.is_valid(devices())
    assert validate_document(seed_create()) == []


def test_parse_content_applies_defaults() -> None:
    content = parse_content(seed_create())
    assert content.name == "Custom REST API"
    assert content.fields[1].primary is False
    assert content.fields[1].required is False
    assert content.fields[1].description is None
    assert content.relationships == ()


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        (lambda d: d["fields"][0].update(primary=0), "/fields/0/primary"),
        (lambda d: d["fields"][0].update(primary="true"), "/fields/0/primary"),
        (lambda d: d["fields"][1].update(type="strin"), "/fields/1/type"),
        (lambda d: d["fields"][1].update(name="user name"), "/fields/1/name"),
        (lambda d: d["fields"][1].update(name="1st"), "/fields/1/name"),
        (lambda d: d["fields"][1].update(name="ok\n"), "/fields/1/name"),
        (lambda d: d["fields"][1].update(name="userId"), "/fields/1/name"),
        (lambda d: d["fields"][0].update(primary=False), "/fields"),
        (lambda d: d.update(fields=[]), "/fields"),
        (lambda d: d.update(name=""), "/name"),
        (lambda d: d.update(name="x" * 201), "/name"),
        (lambda d: d.update(entityType=7), "/entityType"),
        (lambda d: d.update(connectorId="has space"), "/connectorId"),
        (lambda d: d.update(surprise=True), ""),
        (lambda d: d.update(relationships=[{"name": "r", "target": "g", "cardinality": "few"}]),
         "/relationships/0/cardinality"),
        (lambda d: d.update(relationships=[{"name": "r", "target": "g"}, {"name": "r",
                                                                           "target": "h"}]),
         "/relationships/1/name"),
    ],
)
def test_bad_documents_name_the_offending_pointer(change: Any, pointer: str) -> None:
    document = seed_create()
    change(document)
    assert pointer in pointers(document)
    with pytest.raises(SchemaValidationError):
        parse_content(document)


@pytest.mark.parametrize("document", [None, [], "schema", 3, {"name": "only"}])
def test_non_objects_and_missing_parts_are_violations(document: Any) -> None:
    assert validate_document(document) != []
