"""Reading collected records: equality filters typed by the schema's fields, and the errors
of record reads.

A filter term is ``<field>:<value>``. The value is read as the field's type says: the text
itself for the string types (``string``, ``date``, ``datetime``, ``uuid``, ``email``,
``url``), a JSON value for the others (``42``, ``1.5``, ``true``, ``["a","b"]``, any JSON for
``json``), and it must be a value the field could hold (the same JSON Schema a record is
checked with). Equality is strict: ``true`` never equals ``1``, nor ``"1"``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator

from domain.errors import RegistryError, Violation
from domain.model import Field
from domain.records import field_schema

TEXT_TYPES = frozenset({"string", "date", "datetime", "uuid", "email", "url"})
"""Field types whose filter value is the text as sent (not JSON)."""
WHERE = "/query/where"


class RecordNotFoundError(RegistryError):
    """The schema holds no record with that primary key."""


class RecordFilterError(RegistryError):
    """A filter names no field of the schema, or a value the field cannot hold."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__("; ".join(f"{v.pointer}: {v.message}" for v in violations))


def parse_where(fields: Sequence[Field], terms: Sequence[str]) -> dict[str, Any]:
    """``<field>:<value>`` terms as ``{field: value}``; :class:`RecordFilterError` listing
    every bad term (unknown field, a field named twice, a value of the wrong type)."""
    types = {f.name: f.type for f in fields}
    where: dict[str, Any] = {}
    problems: list[Violation] = []
    for term in terms:
        name, colon, text = term.partition(":")
        if not colon:
            problems.append(Violation(WHERE, f"{term!r} is not <field>:<value>"))
        elif name not in types:
            problems.append(Violation(WHERE, f"the schema has no field {name!r}"))
        elif name in where:
            problems.append(Violation(WHERE, f"field {name!r} is filtered twice"))
        else:
            value, ok = _value(types[name], text)
            if ok:
                where[name] = value
            else:
                problems.append(Violation(WHERE, f"{name!r} is a {types[name]} field;"
                                          " the value is not one"))
    if problems:
        raise RecordFilterError(problems)
    return where


def _value(field_type: str, text: str) -> tuple[Any, bool]:
    if field_type in TEXT_TYPES:
        value: Any = text
    else:
        try:
            value = json.loads(text, parse_constant=_no_constant)
        except ValueError:
            return None, False
    validator = Draft202012Validator(field_schema(field_type),
                                     format_checker=Draft202012Validator.FORMAT_CHECKER)
    return value, validator.is_valid(value)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def matches(record: Mapping[str, Any], where: Mapping[str, Any]) -> bool:
    """True when every filtered field of the record equals the filter's value (strictly)."""
    return all(name in record and same(record[name], value) for name, value in where.items())


def same(a: Any, b: Any) -> bool:
    """JSON equality: like ``==``, but a boolean equals only a boolean (``True != 1``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | dict) or isinstance(b, list | dict):
        return False
    return bool(a == b)
