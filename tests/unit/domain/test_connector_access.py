"""Access rules, name normalisation and the name index, connector ids."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from domain.common import Actor
from domain.connectors.access import can_change, can_see
from domain.connectors.connector import Connector
from domain.connectors.errors import ConnectorNameTakenError
from domain.connectors.ids import (
    connector_name_uuid,
    decode_connector_id,
    encode_connector_id,
    normalise_name,
)
from domain.connectors.name_index import ConnectorName, claim_name
from domain.connectors.state import ConnectorState

OWNER = Actor("owner", "acme")


def state(**changes: Any) -> ConnectorState:
    document = {"name": "C", "type": "google_drive", **changes}
    return Connector.create(OWNER, uuid.uuid4(), document).state


ORG = state(scope="org")
USER = state(scope="user", sharedUsers=["friend"])
GROUP = state(scope="group", groupId="eng")
SHARED_TO_ORG = state(scope="user", sharedToOrg=True)

SEE_TABLE = [
    # state, subject, groups, roles, can see, can change
    (ORG, "owner", (), (), True, True),
    (ORG, "anyone", (), (), True, False),
    (USER, "owner", (), (), True, True),
    (USER, "friend", (), (), True, False),
    (USER, "anyone", ("eng",), (), False, False),
    (USER, "admin", (), ("admin",), True, True),
    (GROUP, "member", ("eng",), (), True, False),
    (GROUP, "outsider", ("ops",), ("editor",), False, False),
    (GROUP, "admin", (), ("admin",), True, True),
    (GROUP, "owner", (), (), True, True),
    (SHARED_TO_ORG, "anyone", (), (), True, False),
    (ConnectorState(id=uuid.uuid4(), erased=True), "owner", (), (), False, False),
]


@pytest.mark.parametrize(("subject_state", "subject", "groups", "roles", "see", "change"),
                         SEE_TABLE)
def test_access_table(subject_state: ConnectorState, subject: str, groups: tuple[str, ...],
                      roles: tuple[str, ...], see: bool, change: bool) -> None:
    assert can_see(subject_state, subject, groups, roles) is see
    assert can_change(subject_state, subject, groups, roles) is change


def test_names_are_normalised_for_uniqueness() -> None:
    assert normalise_name("  Document \t Storage ") == "document storage"
    assert normalise_name("STRASSE") == normalise_name("straße")
    assert connector_name_uuid("acme", "Document  Storage") == connector_name_uuid(
        "acme", " document storage")
    assert connector_name_uuid("acme", "x") != connector_name_uuid("other", "x")


def test_the_name_index_claims_and_releases() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    entry = claim_name(None, "acme", "Docs", first)
    assert entry.id == connector_name_uuid("acme", "docs")
    assert entry.holder == first and entry.tenant == "acme"
    assert entry.claim(first) is False
    with pytest.raises(ConnectorNameTakenError) as raised:
        claim_name(entry, "acme", "DOCS", second)
    assert raised.value.holder_id == encode_connector_id(first)
    assert entry.release(second) is False
    assert entry.release(first) is True and entry.holder is None
    assert claim_name(entry, "acme", "docs", second).holder == second
    events = entry.collect_events()
    assert [type(e).__name__ for e in events] == ["Claimed", "Released", "Reclaimed"]
    assert ConnectorName.Event.shredded is False
    assert events and not any("docs" in str(vars(e)).lower() for e in events)


def test_connector_ids_round_trip() -> None:
    value = uuid.UUID("01890a5d-ac96-774b-bcce-b302099a8057")
    text = encode_connector_id(value)
    assert text.startswith("cnn_") and len(text) == 30
    assert decode_connector_id(text) == value
    assert decode_connector_id(text.lower()) == value
    assert decode_connector_id(str(value)) == value
    assert decode_connector_id(value.hex) == value
    assert encode_connector_id(uuid.UUID(int=0)) == "cnn_" + "0" * 26
    for bad in ("cnn_", "cnn_" + "8" + "0" * 25, "cnn_" + "U" * 26, "sch_" + "0" * 26, "x"):
        assert decode_connector_id(bad) is None
