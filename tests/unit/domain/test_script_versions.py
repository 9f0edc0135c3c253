"""A connector's script versions: names, reserved words, latest, default, messages."""

from __future__ import annotations

import uuid

import pytest

from domain.common import Actor
from domain.scripts.versions import (
    ScriptVersionHasErrorsError,
    ScriptVersionNameTakenError,
    ScriptVersionNotFoundError,
    ScriptVersions,
    ScriptVersionValidationError,
    decode_version_id,
    script_versions_uuid,
)

ALICE = Actor("alice", "acme", "alice@example.com")
CONNECTOR = uuid.uuid4()
SCRIPT = "def collect(ctx):\n    yield ('user', {'id': 1})\n"
OK = [{"text": "the script defines collect(ctx)", "severity": "info", "detail": []}]
BROKEN = [{"text": "line 1: expected ':'", "severity": "error", "detail": ["def collect"]}]


def test_the_first_clean_version_becomes_the_default_and_latest_follows() -> None:
    versions = ScriptVersions.open(ALICE, CONNECTOR)
    assert versions.id == script_versions_uuid(CONNECTOR) != CONNECTOR
    broken = versions.save_version(ALICE, uuid.uuid4(), "v0", None, "def collect", BROKEN)
    assert versions.state.default is None and broken.has_errors
    first = versions.save_version(ALICE, uuid.uuid4(), "v1", "first", SCRIPT, OK)
    assert versions.state.find("default") == first and first.published_at is not None
    second = versions.save_version(ALICE, uuid.uuid4(), "v2", None, SCRIPT, OK)
    assert versions.state.find("latest") == second
    assert versions.state.find("default").name == "v1"  # only a choice moves it
    assert versions.set_default(ALICE, "v2").name == "v2"
    assert versions.state.find(second.version_id) == versions.state.find("default")
    assert decode_version_id(second.version_id) == second.id
    with pytest.raises(ScriptVersionHasErrorsError):
        versions.set_default(ALICE, "v0")
    with pytest.raises(ScriptVersionNotFoundError):
        versions.state.find("v9")


def test_names_are_unique_and_not_reserved_and_scripts_are_bounded() -> None:
    versions = ScriptVersions.open(ALICE, CONNECTOR)
    versions.save_version(ALICE, uuid.uuid4(), "v1", None, SCRIPT, OK)
    with pytest.raises(ScriptVersionNameTakenError):
        versions.save_version(ALICE, uuid.uuid4(), "v1", None, SCRIPT, OK)
    for name in ("latest", "default", "", "-x", "a b", 3):
        with pytest.raises(ScriptVersionValidationError) as bad:
            versions.save_version(ALICE, uuid.uuid4(), name, None, SCRIPT, OK)  # type: ignore[arg-type]
        assert [v.pointer for v in bad.value.violations] == ["/name"]
    with pytest.raises(ScriptVersionValidationError) as bad:
        versions.save_version(ALICE, uuid.uuid4(), "big", 5, "x" * (600 * 1024), OK)  # type: ignore[arg-type]
    assert [v.pointer for v in bad.value.violations] == ["/description", "/script"]


def test_messages_are_kept_in_their_shape() -> None:
    versions = ScriptVersions.open(ALICE, CONNECTOR)
    saved = versions.save_version(ALICE, uuid.uuid4(), "v1", None, SCRIPT, [
        {"text": "t" * 5000, "severity": "odd", "detail": ["d"] * 50}])
    (message,) = saved.messages
    assert len(message["text"]) == 2000 and message["severity"] == "error"
    assert len(message["detail"]) == 20
