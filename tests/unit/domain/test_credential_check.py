"""A connection check recorded on a credential: its ``errors`` and the history text."""

from __future__ import annotations

from uuid import uuid4

from domain.common import Actor
from domain.credentials import events as ev
from domain.credentials.credential import Credential

ALICE = Actor("alice", "acme")


def test_a_connection_check_records_errors_as_one_revision() -> None:
    credential = Credential.create(ALICE, uuid4(), {"name": "n", "type": "string",
                                                    "data": {"value": "v"}})
    assert credential.state.errors == ()
    credential.record_check(ALICE, ["401 Unauthorized"])
    assert credential.state.errors == ("401 Unauthorized",)
    assert credential.state.revision == 2
    credential.record_check(ALICE, [])
    texts = [e.text() for e in credential.collect_events() if isinstance(e, ev.Validated)]
    assert credential.state.errors == () and texts == ["Validated: failed", "Validated: ok"]
