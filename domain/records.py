"""What a collected record must look like: a schema's fields as a JSON Schema 2020-12
document, and the check of one record against it (errors and drift, never a value).

A record is an object. Primary and required fields must be present and not null; every
present field must have its declared type (``date`` and ``datetime`` are RFC 3339, ``uuid``,
``email`` and ``url`` are checked formats, ``json`` is anything, ``<type>[]`` an array of the
type). Fields the schema does not declare are allowed and reported as *drift*: the start of a
schema change, not a silent loss.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.protocols import Validator

from domain.model import Field

SCALARS: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
    "uuid": {"type": "string", "format": "uuid"},
    "email": {"type": "string", "format": "email"},
    "url": {"type": "string", "format": "uri"},
    "json": {},
}


def field_schema(field_type: str) -> dict[str, Any]:
    """The JSON Schema of one field's value (``null`` allowed unless the field is needed)."""
    if field_type.endswith("[]"):
        return {"type": "array", "items": dict(SCALARS[field_type[:-2]])}
    return dict(SCALARS[field_type])


def record_schema(fields: Sequence[Field]) -> dict[str, Any]:
    """A schema's fields as the JSON Schema 2020-12 document its records must satisfy."""
    properties: dict[str, Any] = {}
    for spec in fields:
        value = field_schema(spec.type)
        if not (spec.primary or spec.required) and "type" in value:
            value["type"] = [value["type"], "null"]
        properties[spec.name] = value
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": [f.name for f in fields if f.primary or f.required],
        "properties": properties,
    }


@dataclass(frozen=True)
class RecordCheck:
    """What one record breaks (messages without values) and which unknown fields it has."""

    errors: tuple[str, ...]
    drift: tuple[str, ...]

    @property
    def valid(self) -> bool:
        return not self.errors


class RecordRules:
    """The check of one schema version's records, built once."""

    def __init__(self, fields: Sequence[Field]) -> None:
        self.fields = tuple(fields)
        self.known = frozenset(f.name for f in fields)
        self.primary = tuple(f.name for f in fields if f.primary)
        document = record_schema(fields)
        self.validator: Validator = Draft202012Validator(
            document, format_checker=Draft202012Validator.FORMAT_CHECKER)
        # The same document, compiled by jsonschema-rs, decides (a hundred thousand records
        # a sync, a run of them in one call); the reference validator only words the errors
        # of the records it refuses. Both check formats with the reference checker's own
        # functions, so both agree on them.
        checker = Draft202012Validator.FORMAT_CHECKER
        formats = {name: _conformance(checker, name) for name in _FORMATS}
        self._decide = jsonschema_rs.validator_for(
            document, validate_formats=True, formats=formats).is_valid
        self._decide_all = jsonschema_rs.validator_for(
            {"$schema": document["$schema"], "type": "array",
             "items": {k: v for k, v in document.items() if k != "$schema"}},
            validate_formats=True, formats=formats).is_valid

    def check(self, record: Any) -> RecordCheck:
        """What ``record`` breaks; :data:`VALID` itself when it is valid without drift."""
        if type(record) is not dict and not isinstance(record, Mapping):
            return RecordCheck(("the record is not an object",), ())
        drift = (() if self.known.issuperset(record)
                 else tuple(sorted(key for key in record if key not in self.known)))
        if not self._decide(record):
            errors = sorted({_message(error.absolute_path, error.validator)
                             for error in self.validator.iter_errors(record)})
            return RecordCheck(tuple(errors) or ("record: breaks the schema",), drift)
        return RecordCheck((), drift) if drift else VALID

    def check_all(self, records: Sequence[Any]) -> list[RecordCheck] | None:
        """The check of each of ``records``; ``None`` when every one is valid without drift
        (one call decides a whole run, the common case of a sync)."""
        if self._decide_all(records) and all(map(self.known.issuperset, records)):
            return None
        return [self.check(record) for record in records]


VALID = RecordCheck((), ())
"""The check of a valid record without drift (immutable, so one serves every record)."""
_FORMATS = ("date", "date-time", "uuid", "email", "uri")


def _conformance(checker: Any, name: str) -> Callable[[Any], bool]:
    """``checker.conforms(value, name)`` as a function of the value: the checker's own
    function for the format, called directly (it runs once per record and field)."""
    check, raises = checker.checkers[name]

    def conforms(value: Any) -> bool:
        try:
            return bool(check(value))
        except raises:
            return False

    return conforms


def _message(path: Any, rule: Any) -> str:
    pointer = "/" + "/".join(str(part) for part in path)
    words = {"required": "a primary or required field is missing",
             "type": "has the wrong type", "format": "is not in the field's format"}
    return f"{pointer if pointer != '/' else 'record'}: {words.get(str(rule), f'breaks {rule}')}"
