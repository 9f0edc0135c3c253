"""Auth scheme config and connection commands on real SQLite and PostgreSQL: one save for the
connector and the credentials it uses, usages, erase, rebuild = live."""

from __future__ import annotations

import threading
from functools import partial
from typing import Any
from uuid import UUID

import pytest

from domain.common import Actor
from domain.connectors.connection_errors import (
    AuthSchemeConfigInUseError,
    ConnectionNotFoundError,
)
from domain.connectors.connections import NO_CREDENTIAL
from domain.connectors.errors import ConnectorForbiddenError, ConnectorValidationError
from domain.credentials.errors import CredentialInUseError
from domain.errors import ConcurrentWriteError, RegistryError, StaleVersionError
from registry.connectors import Access
from registry.service import Registry
from tests.conftest import Backend

OWNER = Access(Actor("owner-1", "acme", "owner@example.com"), roles=("editor",))
ADMIN = Access(Actor("admin-1", "acme", "admin@example.com"), roles=("admin",))
STRANGER = Access(Actor("someone", "acme"), roles=("editor",))
OTHER_TENANT = Access(Actor("admin-2", "globex"), roles=("admin",))
SECRET = "sk-connection-SECRET-value"


def connector(registry: Registry, name: str = "Billing API") -> UUID:
    document = {"name": name, "type": "universal", "scope": "org",
                "config": {"baseUrl": "https://api.example.com",
                           "allowedHosts": ["api.example.com"]}}
    uuid = registry.app.create_connector(OWNER, document).id
    registry.app.add_auth_scheme_config(OWNER, uuid, {"id": "key", "schemeType": "api-key",
                                                      "name": "X-Key"})
    return uuid


def credential(registry: Registry, access: Access = ADMIN, name: str = "Key") -> str:
    document = {"name": name, "type": "string", "data": {"value": SECRET}}
    return registry.app.create_credential(access, document).credential_id


def using(name: str, *credentials: str) -> dict[str, Any]:
    return {"name": name, "credentials": {"action": [
        {"authSchemeConfig": "key", "credential": c} for c in credentials]}}


def usage_names(registry: Registry, crd: str) -> list[str]:
    from domain.credentials.ids import decode_credential_id

    uuid = decode_credential_id(crd)
    assert uuid is not None
    state = registry.credentials.get("acme", uuid)
    assert state is not None
    return [u["connectionName"] for u in state.usages]


def test_a_connection_and_its_usages_are_saved_together(registry: Registry,
                                                        backend: Backend) -> None:
    app = registry.app
    cnn = connector(registry)
    first, second = credential(registry), credential(registry, name="Second")
    state, name = app.add_connection(OWNER, cnn, using("prod", first, second))
    revision = state.revision
    assert name == "prod" and [c["name"] for c in state.connections] == ["prod"]
    assert usage_names(registry, first) == usage_names(registry, second) == ["prod"]
    with pytest.raises(CredentialInUseError):
        app.delete_credential(ADMIN, _uuid(first))
    state, _, changed = app.replace_connection(OWNER, cnn, "prod", using("live", second))
    assert changed and state.revision == revision + 1
    assert usage_names(registry, first) == [] and usage_names(registry, second) == ["live"]
    assert app.replace_connection(OWNER, cnn, "live", using("live", second))[2] is False
    app.delete_credential(ADMIN, _uuid(first))
    with pytest.raises(ConnectorValidationError) as bad:
        app.add_connection(OWNER, cnn, using("other", first))
    assert bad.value.violations[0].pointer == "/credentials/action/0/credential"
    with pytest.raises(AuthSchemeConfigInUseError):
        app.remove_auth_scheme_config(OWNER, cnn, "key")
    app.remove_connection(OWNER, cnn, "live")
    assert usage_names(registry, second) == []
    with pytest.raises(ConnectionNotFoundError):
        app.remove_connection(OWNER, cnn, "live")
    assert SECRET not in backend.dump()


def test_only_the_owner_or_an_admin_changes_and_tenants_stay_apart(registry: Registry) -> None:
    app = registry.app
    cnn = connector(registry)
    mine, theirs = credential(registry), credential(registry, OTHER_TENANT)
    with pytest.raises(ConnectorForbiddenError):
        app.add_connection(STRANGER, cnn, using("prod", mine))
    with pytest.raises(RegistryError):
        app.add_connection(OTHER_TENANT, cnn, using("prod", theirs))
    with pytest.raises(ConnectorValidationError) as bad:
        app.add_connection(ADMIN, cnn, using("prod", theirs))
    assert bad.value.violations[0].message == NO_CREDENTIAL
    with pytest.raises(StaleVersionError):
        app.add_connection(ADMIN, cnn, using("prod", mine), if_match={1})
    assert app.add_connection(ADMIN, cnn, using("prod", mine))[0].connections


def test_erase_releases_usages_and_rebuild_equals_live(registry: Registry,
                                                       backend: Backend) -> None:
    app = registry.app
    kept, erased = connector(registry), connector(registry, "Doomed")
    crd = credential(registry)
    app.add_connection(OWNER, kept, using("prod", crd))
    app.add_connection(OWNER, erased, using("doomed-connection", crd))
    app.update_connector(OWNER, kept, {"connectionVariables": [{"name": "v", "value": "1"}]},
                         None, patch=True)
    app.delete_connector(OWNER, erased, cascade=False)
    assert sorted(usage_names(registry, crd)) == ["doomed-connection", "prod"]
    app.erase_connector(ADMIN, erased)
    assert usage_names(registry, crd) == ["prod"]
    assert "doomed-connection" not in _connector_rows(registry)
    live = (registry.connectors.get("acme", kept), registry.credentials.get("acme", _uuid(crd)))
    registry.rebuild()
    assert (registry.connectors.get("acme", kept),
            registry.credentials.get("acme", _uuid(crd))) == live
    state = live[0]
    assert state is not None
    assert [c["variables"] for c in state.connections] == [[{"name": "v", "value": "1"}]]


def test_a_delete_racing_a_new_connection_never_leaves_a_dangling_usage(
        registry: Registry) -> None:
    """Either the connection lands first (and the delete answers 409) or the delete does (and
    the connection answers 422): never both."""
    app = registry.app
    cnn = connector(registry)
    for round_ in range(4):
        crd = credential(registry, name=f"Race {round_}")
        outcomes = _race({
            "connect": partial(app.add_connection, OWNER, cnn, using(f"race-{round_}", crd)),
            "delete": partial(app.delete_credential, ADMIN, _uuid(crd)),
        })
        connected, deleted = outcomes["connect"] is None, outcomes["delete"] is None
        assert connected != deleted, outcomes
        state = registry.credentials.get("acme", _uuid(crd))
        assert state is not None and bool(state.usages) == connected
        assert state.deleted == deleted


def _race(actions: dict[str, Any]) -> dict[str, BaseException | None]:
    """Run the actions at once (released together by a barrier); each one's error or None."""
    outcomes: dict[str, BaseException | None] = {}
    barrier = threading.Barrier(len(actions))

    def run(name: str) -> None:
        barrier.wait()
        outcomes[name] = _outcome(actions[name])

    threads = [threading.Thread(target=run, args=(name,)) for name in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _outcome(action: Any) -> BaseException | None:
    try:
        action()
    except (RegistryError, ConcurrentWriteError) as error:
        return error
    return None


def _connector_rows(registry: Registry) -> str:
    with registry.db.transaction(write=False) as cur:
        return repr(cur.all("SELECT * FROM registry_connectors")
                    + cur.all("SELECT * FROM registry_connector_versions"))


def _uuid(crd: str) -> UUID:
    from domain.credentials.ids import decode_credential_id

    value = decode_credential_id(crd)
    assert value is not None
    return value


def test_a_connectors_own_credential_serves_no_connection(registry: Registry) -> None:
    app = registry.app
    cnn = connector(registry)
    app.rotate_connector_credentials(OWNER, cnn, {"authType": "apiKey", "apiKey": SECRET})
    owned = app.connector(OWNER, cnn).state.credential_id
    assert owned is not None
    from domain.credentials.ids import encode_credential_id

    with pytest.raises(ConnectorValidationError) as bad:
        app.add_connection(OWNER, cnn, using("prod", encode_credential_id(owned)))
    assert bad.value.violations[0].message == NO_CREDENTIAL
    assert "serve that connector alone" in NO_CREDENTIAL
    app.erase_connector(OWNER, cnn)  # its credential goes with it, nothing holds it back


def test_an_expired_credential_shows_on_the_connectors_that_used_it(
    registry: Registry,
) -> None:
    from datetime import UTC, datetime, timedelta

    from domain.credentials.ids import decode_credential_id

    app = registry.app
    cnn, other = connector(registry), connector(registry, "Unrelated API")
    expiry = datetime(2031, 1, 1, tzinfo=UTC)
    crd = app.create_credential(ADMIN, {"name": "Short-lived", "type": "string",
                                        "data": {"value": SECRET},
                                        "expiresAt": "2031-01-01T00:00:00Z"}).credential_id
    app.add_connection(OWNER, cnn, using("prod", crd))
    app.add_connection(OWNER, cnn, using("staging", crd))
    uuid = decode_credential_id(crd)
    assert uuid is not None
    assert app.expire_credentials(expiry - timedelta(seconds=1)) == []
    assert app.expire_credentials(expiry) == [uuid]
    history = registry.connectors.history("acme", cnn)
    assert history[0].changes == [
        f"Credential {crd} expired (used by connections prod, staging)"]
    assert history[0].changed_by == "registry:expiry"
    assert registry.connectors.history("acme", other)[0].changes != history[0].changes
    state = registry.credentials.get("acme", uuid)
    assert state is not None and state.deleted
    assert [u["connectionName"] for u in state.usages] == ["prod", "staging"]
