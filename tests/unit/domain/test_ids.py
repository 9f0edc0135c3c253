"""Deterministic ids: UUIDv5 of tenant/connector/key, and its ``sch_`` form."""

from __future__ import annotations

import uuid

import pytest

from domain.ids import SCHEMA_NAMESPACE, decode_schema_id, encode_schema_id, schema_uuid


def test_schema_uuid_is_uuid5_of_tenant_connector_key() -> None:
    expected = uuid.uuid5(SCHEMA_NAMESPACE, "acme/connector-uuid/account")
    assert schema_uuid("acme", "connector-uuid", "account") == expected
    assert expected.version == 5


def test_tenants_never_share_ids() -> None:
    assert schema_uuid("a", "c", "k") != schema_uuid("b", "c", "k")


@pytest.mark.parametrize(
    "value", [uuid.UUID(int=0), uuid.UUID(int=2**128 - 1), schema_uuid("t", "c", "k")]
)
def test_schema_id_round_trips(value: uuid.UUID) -> None:
    text = encode_schema_id(value)
    assert text.startswith("sch_")
    assert len(text) == 4 + 26
    assert decode_schema_id(text) == value
    assert decode_schema_id(text.lower()) == value
    assert decode_schema_id(str(value)) == value


def test_schema_id_known_vector() -> None:
    assert encode_schema_id(uuid.UUID(int=0)) == "sch_" + "0" * 26
    assert encode_schema_id(uuid.UUID(int=1)) == "sch_" + "0" * 25 + "1"
    assert encode_schema_id(uuid.UUID(int=2**128 - 1)) == "sch_7" + "Z" * 25


def test_crockford_aliases_decode() -> None:
    value = uuid.UUID(int=1)
    assert decode_schema_id("sch_" + "O" * 25 + "L") == value


@pytest.mark.parametrize(
    "text",
    ["", "sch_", "sch_8" + "0" * 25, "sch_" + "U" * 26, "sch_" + "0" * 25, "nope",
     "123e4567-e89b-12d3-a456-42661417400", "x" * 36],
)
def test_invalid_ids_decode_to_none(text: str) -> None:
    assert decode_schema_id(text) is None
