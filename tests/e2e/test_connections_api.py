"""Auth scheme configs, connections and credential usages through the real app, both backends.

A connection pairs the connector's auth scheme configs with credentials of the tenant, in
order; the credentials it uses record so in the same save, so a credential in use cannot be
deleted (409) until the connection lets go of it.
"""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from domain.connectors.connections import NO_CREDENTIAL
from registry.service import Registry
from tests.fixtures import headers

Client = TestClient[Any]
CONNECTORS = "/internal/v1/connectors"
CREDENTIALS = "/internal/v1/credentials"
H = headers()
OWNER = headers(roles=("editor",), subject="owner-1", email="owner@example.com")
OTHER_EDITOR = headers(roles=("editor",), subject="editor-2")
GLOBEX = headers(tenant="globex")


def universal(name: str = "Billing API", **more: Any) -> dict[str, Any]:
    return {"name": name, "type": "universal", "scope": "org",
            "config": {"baseUrl": "https://api.example.com",
                       "allowedHosts": ["api.example.com"]}, **more}


def new_connector(client: Client, caller: Any = OWNER, **more: Any) -> str:
    response = client.post(CONNECTORS, json=universal(**more), headers=caller)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def new_credential(client: Client, type_name: str = "string", caller: Any = H,
                   name: str = "Key") -> str:
    data: dict[str, Any] = {"string": {"value": "sk-SECRET-value"},
                            "basic-auth": {"username": "u", "password": "pw-SECRET"},
                            "oauth2-token": {"accessToken": "at-SECRET"}}[type_name]
    response = client.post(CREDENTIALS, json={"name": name, "type": type_name, "data": data},
                           headers=caller)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def add_config(client: Client, cnn: str, config: dict[str, Any], caller: Any = OWNER) -> Any:
    return client.post(f"{CONNECTORS}/{cnn}/auth-scheme-configs", json=config, headers=caller)


def setup(client: Client) -> tuple[str, str, str]:
    """A connector with an api-key and a basic-auth config, and a credential for each."""
    cnn = new_connector(client)
    assert add_config(client, cnn, {"id": "key", "schemeType": "api-key", "name": "X-Key",
                                    "description": "API key"}).status_code == 201
    assert add_config(client, cnn, {"id": "basic", "schemeType": "basic-auth"}
                      ).status_code == 201
    return cnn, new_credential(client), new_credential(client, "basic-auth", name="Login")


def connection(name: str, action: list[tuple[str, str]],
               trigger: list[tuple[str, str]] = (), **more: Any) -> dict[str, Any]:  # type: ignore[assignment]
    def entries(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
        return [{"authSchemeConfig": c, "credential": k} for c, k in pairs]
    return {"name": name, "credentials": {"action": entries(action),
                                          "trigger": entries(list(trigger))}, **more}


def usages(client: Client, crd: str, caller: Any = H) -> list[dict[str, Any]]:
    response = client.get(f"{CREDENTIALS}/{crd}", headers=caller)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["usages"]
    return found


def test_auth_scheme_configs_are_validated_ordered_and_advised(client: Client) -> None:
    cnn = new_connector(client)
    sent = {"id": "oauth", "schemeType": "oauth2", "validationMessages": [{"text": "mine"}]}
    created = add_config(client, cnn, sent)
    assert created.status_code == 201, created.text
    messages = created.json()["validationMessages"]
    assert {"text": "scheme oauth2 needs a token URL", "severity": "error",
            "detail": ["/tokenUrl"]} in messages
    assert all(m["text"] != "mine" for m in messages)
    bad = add_config(client, cnn, {"id": "k2", "schemeType": "api-key", "in": "body"})
    assert bad.status_code == 422
    assert [e["pointer"] for e in bad.json()["errors"]] == ["/in"]
    unknown = add_config(client, cnn, {"id": "x", "schemeType": "kerberos"})
    assert unknown.status_code == 422
    assert add_config(client, cnn, {"id": "oauth", "schemeType": "none"}).status_code == 409
    assert add_config(client, cnn, {"id": "open", "schemeType": "none"}).status_code == 201
    fixed = client.put(f"{CONNECTORS}/{cnn}/auth-scheme-configs/oauth",
                       json={"schemeType": "oauth2", "tokenUrl": "https://a.example.com/t",
                             "scopes": ["read"]}, headers=OWNER)
    assert fixed.status_code == 200, fixed.text
    assert all(m["severity"] != "error" for m in fixed.json()["validationMessages"])
    listed = client.get(f"{CONNECTORS}/{cnn}/auth-scheme-configs", headers=H).json()
    assert [c["id"] for c in listed["authSchemeConfigs"]] == ["oauth", "open"]
    reordered = client.patch(f"{CONNECTORS}/{cnn}", json={"authSchemeConfigIds": ["open", "oauth"]},
                             headers=OWNER)
    assert reordered.status_code == 200, reordered.text
    assert [c["id"] for c in reordered.json()["authSchemeConfigs"]] == ["open", "oauth"]
    for wrong in (["open"], ["open", "oauth", "x"], ["open", "nope"]):
        response = client.patch(f"{CONNECTORS}/{cnn}", json={"authSchemeConfigIds": wrong},
                                headers=OWNER)
        assert response.status_code == 422, wrong
        assert response.json()["errors"][0]["pointer"] == "/authSchemeConfigIds"
    assert client.delete(f"{CONNECTORS}/{cnn}/auth-scheme-configs/open",
                         headers=OWNER).status_code == 204
    assert client.get(f"{CONNECTORS}/{cnn}/auth-scheme-configs/open",
                      headers=H).status_code == 404
    history = client.get(f"{CONNECTORS}/{cnn}/history", headers=H).json()["history"]
    texts = [t for entry in history for t in entry["changes"]]
    for text in ("Added auth scheme config oauth", "Changed auth scheme config oauth",
                 "Reordered auth scheme configs", "Removed auth scheme config open"):
        assert text in texts


def test_connections_keep_entry_order_expand_entries_and_record_usages(client: Client) -> None:
    cnn, key, login = setup(client)
    body = connection("prod", [("basic", login), ("key", key)], [("key", key)],
                      variables=[{"name": "region", "value": "eu"}])
    created = client.post(f"{CONNECTORS}/{cnn}/connections", json=body, headers=OWNER)
    assert created.status_code == 201, created.text
    assert created.headers["location"].endswith(f"/{cnn}/connections/prod")
    document = created.json()
    action = document["credentials"]["action"]
    assert [(e["authSchemeConfig"]["id"], e["credential"]["id"]) for e in action] == [
        ("basic", login), ("key", key)]
    assert action[0]["credential"]["type"] == "basic-auth"
    assert "data" not in action[0]["credential"] and "SECRET" not in created.text
    assert action[1]["authSchemeConfig"]["validationMessages"]
    assert document["variables"] == [{"name": "region", "value": "eu"}]
    assert client.get(f"{CONNECTORS}/{cnn}/connections/prod", headers=H).json() == document
    used = usages(client, key)
    assert len(used) == 1
    assert used[0]["connection"]["name"] == "prod"
    assert used[0]["connection"]["connector"]["id"] == cnn
    assert used[0]["connection"]["connector"]["name"] == "Billing API"
    assert used[0]["connection"]["connector"]["protocol"] == "http"
    renamed = client.patch(f"{CREDENTIALS}/{key}", json={"name": "Renamed key"}, headers=H)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["usages"] == used
    listed = client.get(CREDENTIALS, headers=H).json()["credentials"]
    assert [c["usages"] for c in listed if c["id"] == key] == [[{"connection": {
        "id": document["id"], "name": "prod", "connector": {"id": cnn}}}]]
    in_use = client.delete(f"{CREDENTIALS}/{key}", headers=H)
    assert in_use.status_code == 409, in_use.text
    assert in_use.json()["type"].endswith("/credential-in-use")
    assert in_use.json()["usedBy"] == [f"connection prod of connector {cnn}"]
    config_in_use = client.delete(f"{CONNECTORS}/{cnn}/auth-scheme-configs/key", headers=OWNER)
    assert config_in_use.status_code == 409
    # Replacing drops the api key: released in the same save.
    changed = client.put(f"{CONNECTORS}/{cnn}/connections/prod",
                         json=connection("prod", [("basic", login)]), headers=OWNER)
    assert changed.status_code == 200, changed.text
    assert changed.json()["variables"] == [{"name": "region", "value": "eu"}]
    assert usages(client, key) == []
    assert len(usages(client, login)) == 1
    assert client.delete(f"{CREDENTIALS}/{key}", headers=H).status_code == 204
    assert client.delete(f"{CONNECTORS}/{cnn}/connections/prod", headers=OWNER).status_code == 204
    assert usages(client, login) == []
    assert client.get(f"{CONNECTORS}/{cnn}/connections/prod", headers=H).status_code == 404
    history = client.get(f"{CREDENTIALS}/{login}/history", headers=H).json()["history"]
    texts = [t for entry in history for t in entry["changes"]]
    assert f"Used by connection prod of connector {cnn}" in texts
    assert f"Released by connection prod of connector {cnn}" in texts


def test_bad_connections_are_422_with_pointers_and_change_nothing(client: Client) -> None:
    cnn, key, _ = setup(client)
    theirs = new_credential(client, caller=GLOBEX)
    missing = "crd_" + "7" * 26
    before = client.get(f"{CONNECTORS}/{cnn}", headers=H).json()
    cases = [
        (connection("a", [("key", missing)]), "/credentials/action/0/credential"),
        (connection("a", [("key", key)], [("key", theirs)]),
         "/credentials/trigger/0/credential"),
        (connection("a", [("nope", key)]), "/credentials/action/0/authSchemeConfig"),
        (connection("a", [("basic", key)]), "/credentials/action/0/credential"),
        (connection("a b", []), "/name"),
        (connection("a", [], variables=[{"name": "v", "value": "1"},
                                        {"name": "v", "value": "2"}]), "/variables/1/name"),
        ({"name": "a", "credentials": {"action": [{"authSchemeConfig": "key"}]}},
         "/credentials/action/0"),
    ]
    messages = []
    for body, pointer in cases:
        response = client.post(f"{CONNECTORS}/{cnn}/connections", json=body, headers=OWNER)
        assert response.status_code == 422, (body, response.text)
        errors = response.json()["errors"]
        assert pointer in [e["pointer"] for e in errors], (pointer, errors)
        messages.append(errors[0]["message"])
    assert messages[0] == messages[1] == NO_CREDENTIAL
    assert client.get(f"{CONNECTORS}/{cnn}", headers=H).json() == before
    assert usages(client, key) == [] and usages(client, theirs, GLOBEX) == []
    first = client.post(f"{CONNECTORS}/{cnn}/connections", json=connection("a", [("key", key)]),
                        headers=OWNER)
    assert first.status_code == 201
    again = client.post(f"{CONNECTORS}/{cnn}/connections", json=connection("a", []),
                        headers=OWNER)
    assert again.status_code == 409
    assert again.json()["type"].endswith("/connection-name-taken")
    erase = client.delete(f"{CREDENTIALS}/{key}/erase", headers=H)
    assert erase.status_code == 409 and erase.json()["type"].endswith("/credential-in-use")


def test_connection_variables_overwrite_every_connection(client: Client) -> None:
    cnn, key, _ = setup(client)
    for name in ("one", "two"):
        body = connection(name, [("key", key)], variables=[{"name": name, "value": "x"}])
        assert client.post(f"{CONNECTORS}/{cnn}/connections", json=body,
                           headers=OWNER).status_code == 201
    variables = [{"name": "tenant", "value": "acme"}, {"name": "region", "value": "eu"}]
    version = client.get(f"{CONNECTORS}/{cnn}", headers=H).json()["version"]
    patched = client.patch(f"{CONNECTORS}/{cnn}", json={"connectionVariables": variables},
                           headers=OWNER)
    assert patched.status_code == 200, patched.text
    document = patched.json()
    assert document["version"] == version + 1
    assert document["connectionVariables"] == variables
    assert [c["variables"] for c in document["connections"]] == [variables, variables]
    listed = client.get(f"{CONNECTORS}/{cnn}/connections", headers=H).json()["connections"]
    assert [c["variables"] for c in listed] == [variables, variables]
    # A PUT without connectionVariables leaves them (and the connections) untouched.
    current = client.get(f"{CONNECTORS}/{cnn}", headers=H).json()
    put = client.put(f"{CONNECTORS}/{cnn}", json=universal(ownerId="owner-1"), headers=OWNER)
    assert put.status_code == 200, put.text
    assert put.json()["connectionVariables"] == variables
    assert put.json()["version"] == current["version"]
    # A new connection without variables starts with the connector's.
    third = client.post(f"{CONNECTORS}/{cnn}/connections", json=connection("three", []),
                        headers=OWNER)
    assert third.json()["variables"] == variables
    bad = client.patch(f"{CONNECTORS}/{cnn}", json={"connectionVariables": [{"name": "1x",
                                                                            "value": "v"}]},
                       headers=OWNER)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"] == "/connectionVariables/0/name"
    history = client.get(f"{CONNECTORS}/{cnn}/history", headers=H).json()["history"]
    assert "Set connection variables" in [t for e in history for t in e["changes"]]


def test_who_may_change_and_see_connections(client: Client) -> None:
    cnn, key, _ = setup(client)
    path = f"{CONNECTORS}/{cnn}/connections"
    body = connection("prod", [("key", key)])
    assert client.post(path, json=body, headers=OTHER_EDITOR).status_code == 403
    assert client.post(path, json=body, headers=GLOBEX).status_code == 404
    assert client.get(path, headers=GLOBEX).status_code == 404
    assert client.get(f"{CONNECTORS}/{cnn}/auth-scheme-configs", headers=GLOBEX
                      ).status_code == 404
    stale = client.post(path, json=body, headers={**OWNER, "If-Match": '"1"'})
    assert stale.status_code == 412
    created = client.post(path, json=body, headers=OWNER)
    assert created.status_code == 201
    assert client.get(path, headers=OTHER_EDITOR).json()["connections"][0]["name"] == "prod"
    assert client.delete(f"{path}/prod", headers=GLOBEX).status_code == 404
    assert client.get(f"{path}/nope", headers=H).status_code == 404


def test_delete_keeps_usages_and_erase_releases_them(client: Client, registry: Registry) -> None:
    cnn, key, _ = setup(client)
    assert client.post(f"{CONNECTORS}/{cnn}/connections", json=connection("prod", [("key", key)]),
                       headers=OWNER).status_code == 201
    assert client.delete(f"{CONNECTORS}/{cnn}", headers=OWNER).status_code == 204
    assert len(usages(client, key)) == 1
    assert client.delete(f"{CREDENTIALS}/{key}", headers=H).status_code == 409
    assert client.delete(f"{CONNECTORS}/{cnn}/erase", headers=H).status_code == 204
    assert usages(client, key) == []
    assert client.delete(f"{CREDENTIALS}/{key}", headers=H).status_code == 204


def test_a_usage_names_a_connector_the_caller_may_not_see_by_its_id_alone(
        client: Client) -> None:
    cnn = new_connector(client, scope="user")
    assert add_config(client, cnn, {"id": "key", "schemeType": "api-key",
                                    "name": "X-Key"}).status_code == 201
    key = new_credential(client)
    assert client.post(f"{CONNECTORS}/{cnn}/connections",
                       json=connection("private-link", [("key", key)]),
                       headers=OWNER).status_code == 201
    outsider = headers(roles=("collector",), subject="collector-9")
    [usage] = usages(client, key, outsider)
    assert usage == {"connection": {"id": usage["connection"]["id"], "name": "private-link",
                                    "connector": {"id": cnn}}}
    [seen] = usages(client, key, OWNER)
    assert seen["connection"]["name"] == "private-link"
    assert seen["connection"]["connector"]["name"] == "Billing API"
