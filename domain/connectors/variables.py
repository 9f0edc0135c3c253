"""Connection variables: non-secret ``{name, value}`` pairs a connection's requests use.

A connector's ``connectionVariables`` (top level, every type) overwrite the variables of all
its connections when set (seed 003); each connection also keeps its own list.
"""

from __future__ import annotations

from typing import Any

from domain.connectors.definition import IDENTIFIER, MAX_TEXT, strict, text

MAX_VARIABLES = 100


def connection_variables_schema() -> dict[str, Any]:
    """A list of ``{name, value}`` variables, names unique."""
    item = strict(
        "ConnectionVariable",
        {"name": text("Variable name, used as {{name}} in requests", max_length=64,
                      pattern=IDENTIFIER),
         "value": {"type": "string", "maxLength": MAX_TEXT, "description": "Its value"}},
        ("name", "value"),
    )
    return {"type": "array", "items": item, "maxItems": MAX_VARIABLES,
            "description": "Non-secret values shared by every request of a connection;"
                           " names are unique within the list"}


def duplicate_names(variables: list[dict[str, Any]], base: str) -> list[tuple[str, str]]:
    """(pointer, message) for each variable whose name an earlier one already has."""
    seen: set[str] = set()
    found = []
    for index, variable in enumerate(variables):
        if variable["name"] in seen:
            found.append((f"{base}/{index}/name", "duplicate variable name"))
        seen.add(variable["name"])
    return found
