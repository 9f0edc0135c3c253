"""The credential types: their schemas, and the table docs/credentials.md shows of them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from domain.credentials.types import TYPE_NAMES, TYPES, get_credential_type, validate_data

DOC = Path(__file__).parents[3] / "docs" / "credentials.md"


def documented() -> dict[str, tuple[set[str], set[str], set[str]]]:
    """type -> (required, optional, secret) field names, as the types table states them."""
    rows = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`") and cells[0].strip("`") in TYPE_NAMES:
            fields = [{m.group(1) for m in re.finditer(r"(?:^|, )`([A-Za-z0-9]+)`", cell)}
                      for cell in cells[1:]]
            rows[cells[0].strip("`")] = (fields[0], fields[1], fields[2])
    return rows


def test_the_eleven_types_of_seed_003_in_order() -> None:
    assert TYPE_NAMES == ("none", "string", "binary", "basic-auth", "oauth2-client",
                          "oauth2-code", "oauth2-password", "oauth2-token", "custom-function",
                          "certificate", "jwt-bearer")


@pytest.mark.parametrize("entry", TYPES, ids=lambda e: e.type)
def test_each_schema_is_strict_2020_12(entry: object) -> None:
    schema = entry.data_schema  # type: ignore[attr-defined]
    Draft202012Validator.check_schema(schema)
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) <= set(schema["properties"])


def test_the_documented_table_matches_the_schemas() -> None:
    table = documented()
    assert set(table) == set(TYPE_NAMES)
    for name, (required, optional, secrets) in table.items():
        entry = get_credential_type(name)
        assert entry is not None
        assert required == set(entry.required), name
        assert required | optional == set(entry.fields), name
        if name != "custom-function":  # its secrets are the values of `parameters`
            assert secrets == set(entry.secrets), name


def test_an_unknown_type_is_one_violation_at_type() -> None:
    assert [v.pointer for v in validate_data("kerberos", {})] == ["/type"]
