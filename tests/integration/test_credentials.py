"""Credential commands on the application, on both backends: expiry, erase, rebuild."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.common import Actor
from domain.credentials.errors import (
    CredentialDeletedError,
    CredentialErasedError,
    CredentialNotFoundError,
)
from registry.connectors import Access
from registry.service import Registry
from tests.conftest import Backend
from tests.fixtures import AS_ADMIN

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
OTHER = Access(Actor("intruder", "globex"), roles=("admin",))


def document(name: str, expires: datetime | None = None, **more: Any) -> dict[str, Any]:
    body = {"name": name, "type": "string", "data": {"value": f"secret-{name}"}, **more}
    return body if expires is None else body | {"expiresAt": expires.isoformat()}


def changes(registry: Registry, uuid: Any) -> list[list[str]]:
    return [r.changes for r in registry.credentials.history("acme", uuid)]


def test_expiry_deletes_exactly_the_live_credentials_that_are_due(registry: Registry) -> None:
    app = registry.app
    due = app.create_credential(AS_ADMIN, document("due", NOW - timedelta(seconds=1)))
    exact = app.create_credential(AS_ADMIN, document("exact", NOW))
    later = app.create_credential(AS_ADMIN, document("later", NOW + timedelta(seconds=1)))
    never = app.create_credential(AS_ADMIN, document("never"))
    gone = app.create_credential(AS_ADMIN, document("gone", NOW - timedelta(days=1)))
    app.delete_credential(AS_ADMIN, gone.id)
    other = app.create_credential(OTHER, document("theirs", NOW - timedelta(days=2)))

    expired = app.expire_credentials(NOW)

    assert sorted(expired) == sorted([due.id, exact.id, other.id])
    assert app.expire_credentials(NOW) == []  # nothing left to do: idempotent
    for state in (due, exact):
        now = registry.credentials.get("acme", state.id)
        assert now is not None and now.deleted and now.deleted_by == "registry:expiry"
        assert changes(registry, state.id)[0] == ["Deleted (expired)"]
    for state in (later, never):
        assert not registry.credentials.get("acme", state.id).deleted  # type: ignore[union-attr]
    assert changes(registry, gone.id)[0] == ["Deleted"]
    assert registry.credentials.get("globex", other.id).deleted  # type: ignore[union-attr]


def test_the_followers_tick_expires_with_the_clock(registry: Registry) -> None:
    past = registry.app.create_credential(AS_ADMIN, document("past", NOW - timedelta(days=1)))
    registry.expire(NOW)
    assert registry.credentials.get("acme", past.id).deleted  # type: ignore[union-attr]
    moved = registry.app.create_credential(
        AS_ADMIN, document("moved", datetime.now(UTC) + timedelta(days=1)))
    registry.tick()
    assert not registry.credentials.get("acme", moved.id).deleted  # type: ignore[union-attr]


def test_an_expired_credential_can_be_restored_and_given_a_new_expiry(
    registry: Registry
) -> None:
    app = registry.app
    state = app.create_credential(AS_ADMIN, document("rotating", NOW - timedelta(days=1)))
    app.expire_credentials(NOW)
    app.restore_credential(AS_ADMIN, state.id)
    app.update_credential(AS_ADMIN, state.id, {"expiresAt": None}, None, patch=True)
    assert app.expire_credentials(NOW) == []
    assert changes(registry, state.id)[:3] == [
        ["Changed expiresAt: 2030-05-31T12:00:00.000000Z -> null"], ["Restored"],
        ["Deleted (expired)"]]


def test_commands_on_another_tenants_credential_answer_not_found(registry: Registry) -> None:
    state = registry.app.create_credential(AS_ADMIN, document("mine"))
    for command in (registry.app.delete_credential, registry.app.restore_credential,
                    registry.app.erase_credential):
        with pytest.raises(CredentialNotFoundError):
            command(OTHER, state.id)
    with pytest.raises(CredentialNotFoundError):
        registry.app.update_credential(OTHER, state.id, {"name": "x"}, None, patch=True)


def test_erase_destroys_the_data_key_and_leaves_no_name_or_value(
    registry: Registry, backend: Backend
) -> None:
    app = registry.app
    doomed = app.create_credential(AS_ADMIN, document("doomed-name"))
    app.update_credential(AS_ADMIN, doomed.id, {"data": {"value": "rotated-value"}}, None,
                          patch=True)
    app.create_credential(AS_ADMIN, document("kept-name"))
    app.delete_credential(AS_ADMIN, doomed.id)
    with pytest.raises(CredentialDeletedError):
        app.update_credential(AS_ADMIN, doomed.id, {"name": "x"}, None, patch=True)
    app.erase_credential(AS_ADMIN, doomed.id)
    with pytest.raises(CredentialErasedError):
        app.restore_credential(AS_ADMIN, doomed.id)
    dump = backend.dump()
    for text in ("doomed-name", "secret-doomed-name", "rotated-value", "secret-kept-name"):
        assert text not in dump
    assert "kept-name" in dump
    registry.rebuild()
    erased = registry.credentials.get("acme", doomed.id)
    assert erased is not None and erased.erased and erased.name is None
    assert changes(registry, doomed.id) == [["Erased"]]


def test_a_connection_check_sets_errors_and_survives_a_rebuild(registry: Registry) -> None:
    app = registry.app
    state = app.create_credential(AS_ADMIN, document("checked"))
    app.record_credential_check(AS_ADMIN.actor, state.id, ["401 Unauthorized: bad token"])
    failed = registry.credentials.get("acme", state.id)
    assert failed is not None and failed.errors == ("401 Unauthorized: bad token",)
    app.record_credential_check(AS_ADMIN.actor, state.id, [])
    assert changes(registry, state.id)[:2] == [["Validated: ok"], ["Validated: failed"]]
    live = registry.credentials.get("acme", state.id)
    assert live is not None and live.errors == ()
    registry.rebuild()
    assert registry.credentials.get("acme", state.id) == live
    with pytest.raises(CredentialNotFoundError):
        app.record_credential_check(OTHER.actor, state.id, [])
