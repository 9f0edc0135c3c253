"""Value objects of a schema and the JSON Schema documents that define them.

The documents returned by ``GET .../model/schemas`` are built here, and the very same
validators check every request body, so the published model and the enforced one never drift.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator

from domain.errors import SchemaValidationError, Violation
from domain.modes import Mode

SCALAR_TYPES = (
    "string",
    "integer",
    "number",
    "boolean",
    "date",
    "datetime",
    "uuid",
    "email",
    "url",
    "json",
)
FIELD_TYPES: tuple[str, ...] = SCALAR_TYPES + tuple(f"{t}[]" for t in SCALAR_TYPES)
"""The closed set of field types: ten scalars and an array (``<type>[]``) of each."""

COMPATIBILITY_MODES = tuple(mode.value for mode in Mode)
"""The compatibility modes a schema or connector may set, by name."""

FIELD_ATTRIBUTES = ("type", "primary", "required", "description")
CARDINALITIES = ("one", "many")
IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
SLUG = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
ENTITY_TYPE = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"
MAX_FIELDS = 500
MAX_RELATIONSHIPS = 100
MAX_NAME = 200
MAX_DESCRIPTION = 2000
NO_CONTROL = "^[^\\u0000-\\u001f\\u007f]*$"
TEXT = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*$"

Cardinality = Literal["one", "many"]


@dataclass(frozen=True)
class Field:
    """One field of an entity: its name, type and flags."""

    name: str
    type: str
    primary: bool = False
    required: bool = False
    description: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The field as its JSON document."""
        return {
            "name": self.name,
            "type": self.type,
            "primary": self.primary,
            "required": self.required,
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Field:
        """Build from a validated JSON document."""
        return cls(
            name=data["name"],
            type=data["type"],
            primary=bool(data.get("primary", False)),
            required=bool(data.get("required", False)),
            description=data.get("description"),
        )


@dataclass(frozen=True)
class Relationship:
    """A named link from this entity type to another."""

    name: str
    target: str
    cardinality: Cardinality = "one"

    def to_dict(self) -> dict[str, Any]:
        """The relationship as its JSON document."""
        return {"name": self.name, "target": self.target, "cardinality": self.cardinality}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Relationship:
        """Build from a validated JSON document."""
        return cls(data["name"], data["target"], data.get("cardinality", "one"))


@dataclass(frozen=True)
class SchemaContent:
    """The user-controlled part of a schema: everything a PUT replaces."""

    name: str
    entity_type: str
    fields: tuple[Field, ...]
    relationships: tuple[Relationship, ...] = ()

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> SchemaContent:
        """Build from a validated model document (``name``, ``entityType``, fields...)."""
        return cls(
            name=document["name"],
            entity_type=document["entityType"],
            fields=tuple(Field.from_dict(f) for f in document["fields"]),
            relationships=tuple(
                Relationship.from_dict(r) for r in document.get("relationships") or ()
            ),
        )

    def to_document(self) -> dict[str, Any]:
        """The content as a model document (the inverse of :meth:`from_document`)."""
        return {
            "name": self.name,
            "entityType": self.entity_type,
            "fields": [f.to_dict() for f in self.fields],
            "relationships": [r.to_dict() for r in self.relationships],
        }


def canonical_form(content: SchemaContent) -> dict[str, Any]:
    """The content with fields and relationships sorted by name and every default filled in."""
    document = content.to_document()  # to_dict writes every attribute, defaults included
    return document | {
        "fields": sorted(document["fields"], key=lambda f: str(f["name"])),
        "relationships": sorted(document["relationships"], key=lambda r: str(r["name"])),
    }


def fingerprint(content: SchemaContent) -> str:
    """SHA-256 (64 lowercase hex digits) of the canonical form as compact, key-sorted UTF-8
    JSON: equal exactly when a replace with the other content would change nothing."""
    text = json.dumps(canonical_form(content), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _field_type_document() -> dict[str, Any]:
    return {
        "title": "FieldType",
        "description": "A scalar type, or an array of one written '<type>[]'.",
        "type": "string",
        "enum": list(FIELD_TYPES),
    }


def _field_document() -> dict[str, Any]:
    return {
        "title": "Field",
        "type": "object",
        "required": ["name", "type"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "pattern": IDENTIFIER},
            "type": {"$ref": "#/$defs/FieldType"},
            "primary": {"type": "boolean", "default": False},
            "required": {"type": "boolean", "default": False},
            "description": {
                "type": ["string", "null"],
                "maxLength": MAX_DESCRIPTION,
                "pattern": TEXT,
            },
        },
    }


def _relationship_document() -> dict[str, Any]:
    return {
        "title": "Relationship",
        "type": "object",
        "required": ["name", "target"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "pattern": IDENTIFIER},
            "target": {"type": "string", "pattern": ENTITY_TYPE},
            "cardinality": {"enum": list(CARDINALITIES), "default": "one"},
        },
    }


_READ_ONLY = {
    "id": {"type": "string", "readOnly": True},
    "uuid": {"type": "string", "format": "uuid", "readOnly": True},
    "version": {"type": "integer", "minimum": 1, "readOnly": True},
    "deleted": {"type": "boolean", "readOnly": True},
    "createdAt": {"type": "string", "format": "date-time", "readOnly": True},
    "createdBy": {"type": ["string", "null"], "readOnly": True},
    "updatedAt": {"type": "string", "format": "date-time", "readOnly": True},
    "updatedBy": {"type": ["string", "null"], "readOnly": True},
    "deletedAt": {"type": ["string", "null"], "format": "date-time", "readOnly": True},
    "deletedBy": {"type": ["string", "null"], "readOnly": True},
    "fingerprint": {"type": "string", "pattern": "^[0-9a-f]{64}$", "readOnly": True},
}


def _schema_document() -> dict[str, Any]:
    primary = {
        "type": "object",
        "required": ["primary"],
        "properties": {"primary": {"const": True}},
    }
    return {
        "title": "Schema",
        "type": "object",
        "required": ["name", "entityType", "fields"],
        "additionalProperties": False,
        "properties": {
            "name": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_NAME,
                "pattern": NO_CONTROL,
            },
            "connectorId": {
                "type": "string",
                "pattern": SLUG,
                "description": "The live connector the schema belongs to, of the caller's tenant"
                " and visible to the caller: its cnn_ id or that id's UUID form (stored as the"
                " cnn_ id). Required on create. On replace it may be omitted; if sent, it must"
                " equal the stored value: it cannot change.",
            },
            "key": {
                "type": "string",
                "pattern": SLUG,
                "description": "Defaults to entityType on create. On replace it may be omitted; if"
                " sent, it must equal the stored value: it cannot change.",
            },
            "entityType": {"type": "string", "pattern": ENTITY_TYPE},
            "compatibility": {
                "enum": [*COMPATIBILITY_MODES, None],
                "description": "The schema's own compatibility mode; null inherits the"
                " connector's. On replace it may be omitted: the mode stays as it is. It is"
                " not part of the content or its fingerprint.",
            },
            "fields": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_FIELDS,
                "items": {"$ref": "#/$defs/Field"},
                "contains": primary,
                "description": "Field names are unique within the schema.",
            },
            "relationships": {
                "type": "array",
                "maxItems": MAX_RELATIONSHIPS,
                "items": {"$ref": "#/$defs/Relationship"},
                "description": "Relationship names are unique within the schema.",
            },
            **_READ_ONLY,
        },
    }


_BUILDERS = {
    "Schema": _schema_document,
    "Field": _field_document,
    "Relationship": _relationship_document,
    "FieldType": _field_type_document,
}
_DEPENDS = {
    "Schema": ("Field", "Relationship", "FieldType"),
    "Field": ("FieldType",),
    "Relationship": (),
    "FieldType": (),
}


@cache
def model_documents() -> dict[str, dict[str, Any]]:
    """Standalone JSON Schema 2020-12 documents for Schema, Field, Relationship and FieldType."""
    documents = {}
    for name, build in _BUILDERS.items():
        document: dict[str, Any] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"urn:connector-schema-registry:model:{name}",
            **build(),
        }
        if _DEPENDS[name]:
            document["$defs"] = {dep: _BUILDERS[dep]() for dep in _DEPENDS[name]}
        documents[name] = document
    return documents


@cache
def validator(name: str) -> Validator:
    """A validator for one model document, built once and reused (with format checks)."""
    document = model_documents()[name]
    Draft202012Validator.check_schema(document)
    return Draft202012Validator(document, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _pointer(error: ValidationError) -> str:
    return "".join(f"/{str(p).replace('~', '~0').replace('/', '~1')}" for p in error.absolute_path)


def _message(error: ValidationError) -> str:
    if error.validator == "contains":
        return "at least one field must have primary: true"
    return error.message


def _duplicates(items: list[dict[str, Any]], what: str, base: str) -> list[Violation]:
    seen: set[str] = set()
    found = []
    for index, item in enumerate(items):
        name = item["name"]
        if name in seen:
            found.append(Violation(f"{base}/{index}/name", f"duplicate {what} name '{name}'"))
        seen.add(name)
    return found


def _trailing_newlines(document: dict[str, Any]) -> list[Violation]:
    # Python's ``$`` also matches before a final newline, which JSON Schema patterns do not mean.
    found = []
    for key in ("connectorId", "key", "entityType"):
        if str(document.get(key, "")).endswith("\n"):
            found.append(Violation(f"/{key}", "must not end with a newline"))
    for base, what in (("fields", "name"), ("relationships", "name"), ("relationships", "target")):
        for index, item in enumerate(document.get(base, [])):
            if item[what].endswith("\n"):
                found.append(Violation(f"/{base}/{index}/{what}", "must not end with a newline"))
    return found


TOKEN_REQUEST: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "ApiTokenRequest",
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": NO_CONTROL},
        "appId": {"type": "string", "pattern": SLUG, "description": "default: the token id"},
    },
}
"""The body of ``POST /internal/v1/api-tokens``."""


@cache
def _token_validator() -> Validator:
    Draft202012Validator.check_schema(TOKEN_REQUEST)
    return Draft202012Validator(TOKEN_REQUEST)


def violations_of(document: Any, checker: Validator) -> list[Violation]:
    """Every rule of a JSON Schema the document breaks, in document order."""
    errors = sorted(checker.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    return [Violation(_pointer(e), _message(e)) for e in errors]


def validate_token_request(document: Any) -> list[Violation]:
    """Every rule an API-token request breaks."""
    violations = violations_of(document, _token_validator())
    app_id = document.get("appId", "") if isinstance(document, dict) else ""
    if not violations and isinstance(app_id, str) and app_id.endswith("\n"):
        violations.append(Violation("/appId", "must not end with a newline"))
    return violations


def validate_document(document: Any) -> list[Violation]:
    """Every rule a schema document breaks, as ``{pointer, message}`` violations."""
    violations = violations_of(document, validator("Schema"))
    if violations:
        return violations
    return (
        _trailing_newlines(document)
        + _duplicates(document["fields"], "field", "/fields")
        + _duplicates(document.get("relationships", []), "relationship", "/relationships")
    )


def parse_content(document: Any) -> SchemaContent:
    """Validate a schema document and return its content, or raise SchemaValidationError."""
    violations = validate_document(document)
    if violations:
        raise SchemaValidationError(violations)
    return SchemaContent.from_document(document)
