"""The catalogue of connector types and the validation of a connector's config and credentials.

Every type's documents are checked once against the JSON Schema 2020-12 metaschema and turned
into one reusable validator, the same way ``domain.model.validator`` does for schemas, so the
documents the API publishes are exactly the rules it enforces.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from functools import cache
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator

from domain.connectors.apps import CONFLUENCE, GITHUB, NOTION, SALESFORCE, SLACK
from domain.connectors.definition import ConnectorType
from domain.connectors.storage import GOOGLE_DRIVE, POSTGRESQL, S3
from domain.connectors.universal import UNIVERSAL
from domain.errors import Violation

CATALOGUE: tuple[ConnectorType, ...] = (
    S3, GOOGLE_DRIVE, CONFLUENCE, GITHUB, SLACK, NOTION, SALESFORCE, POSTGRESQL, UNIVERSAL,
)
_BY_TYPE = {entry.type: entry for entry in CATALOGUE}

Part = Literal["config", "credentials"]


def list_types() -> tuple[ConnectorType, ...]:
    """Every connector type, in catalogue order."""
    return CATALOGUE


def get_type(type_name: str) -> ConnectorType | None:
    """The catalogue entry of ``type_name``; ``None`` when there is no such type."""
    return _BY_TYPE.get(type_name)


def checked_validator(schema: Mapping[str, Any]) -> Validator:
    """A validator of a JSON Schema 2020-12 document checked against the metaschema first,
    with format checks (``date-time``, ``uri``...)."""
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@cache
def validator(type_name: str, part: Part) -> Validator:
    """A validator of one type's config or credentials, built once (with format checks)."""
    entry = _BY_TYPE[type_name]
    return checked_validator(entry.config_schema if part == "config"
                             else entry.credentials_schema)


def validate_config(type_name: str, document: Any) -> list[Violation]:
    """Every rule ``document`` breaks as the config of a ``type_name`` connector."""
    violations = _validate(type_name, "config", document)
    if not violations and type_name == "slack":
        violations = _date_range_in_order(document)
    return violations


def validate_credentials(type_name: str, document: Any,
                         base: str = "/credentials") -> list[Violation]:
    """Every rule ``document`` breaks as the credentials of a ``type_name`` connector.

    Pointers start with ``base``: ``/credentials`` inside a connector document, ``""`` when
    the credentials are the whole document (a rotation's body).
    """
    return _validate(type_name, "credentials", document, base)


def auth_type_of(entry: ConnectorType, credentials: Mapping[str, Any] | None) -> str:
    """The auth type credentials are for: their ``authType``, else the type's only one."""
    if credentials and isinstance(credentials.get("authType"), str):
        return str(credentials["authType"])
    return entry.default_auth_type


def _validate(type_name: str, part: Part, document: Any,
              base: str | None = None) -> list[Violation]:
    if type_name not in _BY_TYPE:
        return [Violation("/type", f"unknown connector type '{type_name}'")]
    return schema_violations(validator(type_name, part), document,
                             f"/{part}" if base is None else base)


def schema_violations(checker: Validator, document: Any, base: str = "",
                      multiline: Collection[str] = ()) -> list[Violation]:
    """Every rule of a JSON Schema ``document`` breaks, with pointers prefixed by ``base``.

    Unlike ``domain.model.violations_of``, an unknown key is reported at its own pointer.
    A string may end with a newline only at a pointer in ``multiline`` (a PEM block does).
    """
    errors = checker.iter_errors(document)
    found: list[Violation] = []
    for error in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
        found += _violations(base, error)
    return _unique(found) or [v for v in _trailing_newlines(base, document)
                              if v.pointer not in multiline]


def _violations(base: str, error: ValidationError) -> list[Violation]:
    pointer = base + _pointer(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        # One violation per unknown key, pointing at the key itself rather than its parent.
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        known = schema.get("properties", {})
        return [Violation(f"{pointer}/{_escape(key)}", "unknown property")
                for key in error.instance if key not in known]
    return [Violation(pointer, error.message)]


def _pointer(path: Any) -> str:
    return "".join(f"/{_escape(str(p))}" for p in path)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _unique(violations: list[Violation]) -> list[Violation]:
    # ``if``/``then`` branches may report one failure twice; keep the first of each.
    return list(dict.fromkeys(violations))


def _date_range_in_order(document: Mapping[str, Any]) -> list[Violation]:
    dates: Mapping[str, Any] = document.get("dateRange") or {}
    start, end = dates.get("from"), dates.get("to")
    if start and end and end < start:
        return [Violation("/config/dateRange/to", "must not be before dateRange.from")]
    return []


def _trailing_newlines(pointer: str, value: Any) -> list[Violation]:
    # Python's ``$`` also matches before a final newline, which JSON Schema patterns do not mean.
    if isinstance(value, str):
        return [Violation(pointer, "must not end with a newline")] if value.endswith("\n") else []
    if isinstance(value, Mapping):
        items: Any = ((_escape(str(k)), v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((str(i), v) for i, v in enumerate(value))
    else:
        return []
    return [found for key, item in items for found in _trailing_newlines(f"{pointer}/{key}", item)]
