"""A credential records the connections using it; delete and erase wait until none does."""

from __future__ import annotations

import uuid

import pytest

from domain.common import Actor
from domain.credentials.credential import Credential
from domain.credentials.errors import CredentialDeletedError, CredentialInUseError
from domain.credentials.events import EXPIRED

ALICE = Actor("alice", "acme")
CONNECTOR = uuid.UUID("01890a5d-ac96-774b-bcce-b302099a8057")


def credential() -> Credential:
    return Credential.create(ALICE, uuid.uuid4(), {"name": "Key", "type": "string",
                                                   "data": {"value": "sk-value"}})


def texts(item: Credential) -> list[str]:
    return [event.text() for event in item.collect_events()][1:]


def test_usages_come_and_go_with_their_own_events() -> None:
    item = credential()
    item.use(ALICE, CONNECTOR, "con_1", "prod")
    item.use(ALICE, CONNECTOR, "con_1", "prod")  # already recorded: nothing new
    item.use(ALICE, CONNECTOR, "con_1", "live")  # renamed: the new name is recorded
    assert [u["connectionName"] for u in item.state.usages] == ["live"]
    with pytest.raises(CredentialInUseError) as in_use:
        item.delete(ALICE)
    assert in_use.value.users == ["connection live of connector cnn_01H455VB4PEX5VSKNK084SN02Q"]
    with pytest.raises(CredentialInUseError):
        item.erase(ALICE)
    assert item.release(ALICE, CONNECTOR, "con_1", "live")
    assert not item.release(ALICE, CONNECTOR, "con_1", "live")
    item.delete(ALICE)
    assert texts(item) == [
        "Used by connection prod of connector cnn_01H455VB4PEX5VSKNK084SN02Q",
        "Used by connection live of connector cnn_01H455VB4PEX5VSKNK084SN02Q",
        "Released by connection live of connector cnn_01H455VB4PEX5VSKNK084SN02Q",
        "Deleted",
    ]


def test_expiry_deletes_a_credential_in_use_and_its_connection_can_still_let_go() -> None:
    item = credential()
    item.use(ALICE, CONNECTOR, "con_1", "prod")
    item.delete(ALICE, reason=EXPIRED)
    assert item.state.deleted and item.state.usages
    with pytest.raises(CredentialDeletedError):
        item.use(ALICE, CONNECTOR, "con_2", "other")
    assert item.release(ALICE, CONNECTOR, "con_1", "prod")
    assert item.state.usages == ()
