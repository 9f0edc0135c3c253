"""Actions (tools) a collector script declares, and the built-in ones every connector has.

A script declares an action with ``@action(id, description=..., input=..., output=...)``;
the sandbox's inspection reports what was declared and these rules decide what is kept:
an id of lower-case letters, digits and ``_`` (not a built-in's), a description, and JSON
Schemas 2020-12 for the input (an object) and the output. A bad declaration is an error
message of the version (so it cannot become the default) and is not kept.

Input values of properties marked secret (``"writeOnly": true`` or ``"format":
"password"``) never reach the audit trail: :func:`masked` replaces them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from domain.errors import RegistryError, Violation

ACTION_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_DESCRIPTION = 2000
MAX_ACTIONS = 50
MASK = "********"
OBJECT = {"type": "object"}

BUILT_INS: tuple[dict[str, Any], ...] = (
    {"id": "test_connection", "name": "Test connection",
     "description": "Check that the connector's system answers with its saved config and "
                    "credentials (the same check as POST /connectors/{id}/test).",
     "inputSchema": {"type": "object", "additionalProperties": False, "properties": {}},
     "outputSchema": {"type": "object", "required": ["ok", "latencyMs", "checkedAt"],
                      "properties": {"ok": {"type": "boolean"},
                                     "latencyMs": {"type": "number"},
                                     "checkedAt": {"type": "string", "format": "date-time"}}}},
    {"id": "sync", "name": "Sync",
     "description": "Queue a sync of the connector's default script version; the job's "
                    "progress is at GET /connectors/{id}/sync/{jobId}.",
     "inputSchema": {"type": "object", "additionalProperties": False,
                     "properties": {"full": {"type": "boolean", "default": True}}},
     "outputSchema": {"type": "object", "required": ["jobId", "status", "startedAt"],
                      "properties": {"jobId": {"type": "string"},
                                     "status": {"type": "string"},
                                     "startedAt": {"type": "string"}}}},
)
BUILT_IN_IDS = frozenset(tool["id"] for tool in BUILT_INS)


class ActionNotFoundError(RegistryError):
    """The connector has no action (tool) of that id."""


class ActionInputError(RegistryError):
    """The input breaks the action's ``inputSchema``."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__("; ".join(f"{v.pointer or '/'}: {v.message}" for v in violations))


class ActionFailedError(RegistryError):
    """The action raised, hit a limit, or answered an output its schema refuses."""


class ActionsBusyError(RegistryError):
    """The connector already runs as many actions as it may at once."""


@dataclass(frozen=True)
class Checked:
    """The declarations kept, and the messages about the ones refused."""

    actions: list[dict[str, Any]]
    messages: list[dict[str, Any]]


def check_declarations(declared: Sequence[Mapping[str, Any]]) -> Checked:
    """Keep the well-formed declarations; one error message per refused one."""
    kept: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for item in declared[:MAX_ACTIONS]:
        problems = _problems(item, {a["id"] for a in kept})
        label = str(item.get("id"))[:80]
        if problems:
            messages.append({"text": f"action {label!r} is not usable", "severity": "error",
                             "detail": problems})
            continue
        kept.append({"id": item["id"], "name": item.get("name") or item["id"],
                     "description": item["description"],
                     "inputSchema": item.get("inputSchema") or dict(OBJECT),
                     "outputSchema": item.get("outputSchema") or {}})
    if len(declared) > MAX_ACTIONS:
        messages.append({"text": f"a script may declare at most {MAX_ACTIONS} actions",
                         "severity": "error", "detail": []})
    if kept:
        messages.append({"text": "the script declares actions: "
                                 + ", ".join(a["id"] for a in kept),
                         "severity": "info", "detail": []})
    return Checked(kept, messages)


def _problems(item: Mapping[str, Any], taken: set[str]) -> list[str]:
    found = []
    action_id = item.get("id")
    if not isinstance(action_id, str) or not ACTION_ID.match(action_id):
        found.append("id: 1-64 lower-case letters, digits or '_', starting with a letter")
    elif action_id in BUILT_IN_IDS:
        found.append(f"id: {action_id!r} is a built-in tool of every connector")
    elif action_id in taken:
        found.append(f"id: {action_id!r} is declared twice")
    name = item.get("name")
    if name is not None and (not isinstance(name, str) or not 0 < len(name) <= 200):
        found.append("name: a string of 1-200 characters")
    description = item.get("description")
    if not isinstance(description, str) or not description.strip() \
            or len(description) > MAX_DESCRIPTION:
        found.append(f"description: a string of 1-{MAX_DESCRIPTION} characters")
    for key in ("inputSchema", "outputSchema"):
        schema = item.get(key)
        if schema is None:
            continue
        if not isinstance(schema, dict):
            found.append(f"{_arg(key)}: a JSON Schema (an object)")
            continue
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as error:
            found.append(f"{_arg(key)}: not a valid JSON Schema 2020-12: {error.message}"[:500])
            continue
        if key == "inputSchema" and schema.get("type") != "object":
            found.append("input: the input schema must describe an object (\"type\": "
                         "\"object\")")
    return found


def _arg(key: str) -> str:
    return "input" if key == "inputSchema" else "output"


def violations_of(schema: Mapping[str, Any], value: Any) -> list[Violation]:
    """Every way ``value`` breaks ``schema``, as pointers into the value."""
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    found = []
    for error in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
        pointer = "".join(f"/{str(p).replace('~', '~0').replace('/', '~1')}"
                          for p in error.absolute_path)
        found.append(Violation(pointer, _wording(error.validator, error.message)))
    return found[:50]


def _wording(rule: Any, message: str) -> str:
    # jsonschema's own messages repeat the offending value: a secret must not be echoed.
    generic = {"type": "has the wrong type", "enum": "is not one of the allowed values",
               "const": "is not the allowed value", "pattern": "does not match the pattern",
               "format": "is not in the required format",
               "minLength": "is too short", "maxLength": "is too long",
               "minimum": "is too small", "maximum": "is too large",
               "exclusiveMinimum": "is too small", "exclusiveMaximum": "is too large"}
    return generic.get(str(rule), message[:300])


def masked(schema: Mapping[str, Any], value: Any) -> Any:
    """``value`` with every property the schema marks secret replaced by :data:`MASK`."""
    if not isinstance(value, dict):
        return value
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    out: dict[str, Any] = {}
    for key, item in value.items():
        rule = properties.get(key)
        rule = rule if isinstance(rule, Mapping) else {}
        if rule.get("writeOnly") is True or rule.get("format") == "password":
            out[key] = MASK
        else:
            out[key] = masked(rule, item)
    return out
