"""The connectors API walked through the real Litestar app, on both backends."""

from __future__ import annotations

import copy
from typing import Any

from litestar.testing import TestClient

from api.models import ConnectorOut
from domain.common import Actor
from domain.connectors.ids import decode_connector_id
from registry.connectors import Access
from registry.service import Registry
from tests.conftest import Backend
from tests.fixtures import API, headers, seed_create

Client = TestClient[Any]
PATH = "/internal/v1/connectors"
H = headers()
OWNER = headers(roles=("editor",), subject="owner-1", email="owner@example.com")
SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
KEY_ID = "AKIAIOSFODNN7EXAMPLE"
CREDENTIALS = "/internal/v1/credentials"
ADMIN_ACCESS = Access(Actor("admin", "acme"), roles=("admin",))

S3: dict[str, Any] = {
    "name": "Document Storage",
    "type": "s3",
    "collection": "col_abc123",
    "config": {"bucket": "my-documents", "region": "us-east-1", "prefix": "/documents/"},
    "credentials": {"accessKeyId": KEY_ID, "secretAccessKey": SECRET},
}


def s3(**changes: Any) -> dict[str, Any]:
    return copy.deepcopy(S3) | changes


def create(client: Client, document: dict[str, Any], caller: Any = OWNER) -> str:
    response = client.post(PATH, json=document, headers=caller)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


SEED_FIELDS = {
    # seed 001's table, camelCase
    "id", "tenantId", "appId", "createdAt", "updatedAt", "createdBy", "updatedBy", "source",
    "sourceType", "deleted", "deletedAt", "deletedBy", "schemaVersion", "type", "provider",
    "name", "scope", "ownerId", "groupId", "userId", "config", "vaultPath", "authType",
    "oauthRefreshNeeded", "oauthTokenExpiresAt", "enabled", "syncStatus", "lastSyncAt",
    "consecutiveErrors", "lastError", "metrics", "eventTypes", "webhookEndpointId",
    "credentialLastRotatedAt", "nextRotationDue", "tags", "version", "applicationId",
    # seed 004 and seed 003
    "collection", "status", "protocol", "baseUrl", "public", "documentationURL", "imageURL",
    "connectionVariables", "authSchemeConfigs", "connections",
}


def problem_type(response: Any) -> str:
    assert response.headers["content-type"].startswith("application/problem+json")
    return str(response.json()["type"]).rsplit("/", 1)[1]


def no_secret(response: Any) -> None:
    assert SECRET not in response.text and KEY_ID not in response.text


def test_the_seed_s3_body_creates_a_connector_shown_without_credentials(client: Client) -> None:
    response = client.post(PATH, json=s3(), headers=OWNER)
    assert response.status_code == 201, response.text
    body = response.json()
    connector_id = body["id"]
    assert connector_id.startswith("cnn_") and len(connector_id) == 30
    assert response.headers["location"] == f"{PATH}/{connector_id}"
    assert response.headers["etag"] == '"1"'
    no_secret(response)

    got = client.get(f"{PATH}/{connector_id}", headers=OWNER)
    assert got.status_code == 200 and got.headers["etag"] == '"1"'
    no_secret(got)
    shown = got.json()
    assert set(shown) == {ConnectorOut.__struct_encode_fields__[i]
                          for i in range(len(ConnectorOut.__struct_fields__))}
    assert "credentials" not in shown
    assert set(shown) >= SEED_FIELDS, SEED_FIELDS - set(shown)
    assert shown["name"] == "Document Storage" and shown["type"] == "s3"
    assert shown["config"] == S3["config"] and shown["collection"] == "col_abc123"
    assert shown["ownerId"] == "owner-1" and shown["tenantId"] == "acme"
    assert shown["credentialsSet"] is True
    assert sorted(shown["credentialFields"]) == ["accessKeyId", "secretAccessKey"]
    assert shown["status"] == "active" and shown["protocol"] == "s3"
    assert shown["version"] == 1 and shown["schemaCount"] == 0 and shown["schemas"] == []
    assert shown["groupId"] is None and shown["deletedAt"] is None
    assert shown["createdBy"] == "owner@example.com"

    uuid = str(decode_connector_id(connector_id))
    assert client.get(f"{PATH}/{uuid}", headers=OWNER).json()["id"] == connector_id
    again = client.get(f"{PATH}/{connector_id}", headers={**OWNER, "If-None-Match": '"1"'})
    assert again.status_code == 304
    listed = client.get(PATH, headers=OWNER)
    assert [c["id"] for c in listed.json()["connectors"]] == [connector_id]
    assert listed.json()["nextCursor"] is None
    no_secret(listed)


def test_patch_records_the_change_and_keeps_the_old_version(client: Client) -> None:
    connector_id = create(client, s3())
    for media_type in ("application/merge-patch+json", "application/json"):
        prefix = "/new-prefix/" if media_type.startswith("application/merge") else "/other/"
        response = client.patch(
            f"{PATH}/{connector_id}", content=f'{{"config": {{"prefix": "{prefix}"}}}}',
            headers={**OWNER, "Content-Type": media_type})
        assert response.status_code == 200, response.text
        assert response.json()["config"]["prefix"] == prefix
        no_secret(response)
    assert response.headers["etag"] == '"3"'

    history = client.get(f"{PATH}/{connector_id}/history", headers=H)
    assert history.status_code == 200, history.text
    entries = history.json()["history"]
    assert [e["version"] for e in entries] == [3, 2, 1]
    assert entries[1]["changes"] == ["Changed config prefix: /documents/ -> /new-prefix/"]
    assert entries[2]["changes"] == ["Initial creation"]

    first = client.get(f"{PATH}/{connector_id}/revisions/1", headers=OWNER)
    assert first.status_code == 200 and first.headers["etag"] == '"1"'
    assert first.json()["config"]["prefix"] == "/documents/" and first.json()["version"] == 1
    no_secret(first)
    missing = client.get(f"{PATH}/{connector_id}/revisions/9", headers=OWNER)
    assert missing.status_code == 404
    assert problem_type(missing) == "connector-version-not-found"


def test_if_match_on_a_stale_version_is_412(client: Client) -> None:
    connector_id = create(client, s3())
    ok = client.patch(f"{PATH}/{connector_id}", json={"enabled": False},
                      headers={**OWNER, "If-Match": '"1"'})
    assert ok.status_code == 200 and ok.json()["status"] == "disabled"
    for method, body in (("PATCH", {"enabled": True}), ("PUT", s3())):
        stale = client.request(method, f"{PATH}/{connector_id}", json=body,
                               headers={**OWNER, "If-Match": '"1"'})
        assert stale.status_code == 412, stale.text
        assert problem_type(stale) == "stale-version"
        assert stale.json()["currentVersion"] == 2


def test_put_replaces_the_document(client: Client) -> None:
    connector_id = create(client, s3(tags={"team": "data"}))
    replaced = client.put(f"{PATH}/{connector_id}", json=s3(name="Archive"),
                          headers={**OWNER, "If-Match": '"1"'})
    assert replaced.status_code == 200, replaced.text
    body = replaced.json()
    assert body["name"] == "Archive" and body["tags"] == {} and body["version"] == 2
    assert body["ownerId"] == "owner-1" and body["credentialsSet"] is True
    no_secret(replaced)
    echoed = client.put(f"{PATH}/{connector_id}", json=body | {"enabled": False},
                        headers=OWNER)
    assert echoed.status_code == 200, echoed.text
    assert echoed.json()["enabled"] is False and echoed.json()["version"] == 3
    changed_type = client.put(f"{PATH}/{connector_id}", json=s3(type="github"), headers=OWNER)
    assert changed_type.status_code == 422


def test_a_taken_name_is_409_with_the_existing_id(client: Client) -> None:
    connector_id = create(client, s3())
    taken = client.post(PATH, json=s3(name="document   STORAGE"), headers=H)
    assert taken.status_code == 409
    assert problem_type(taken) == "connector-name-taken"
    assert taken.json()["existingId"] == connector_id


def test_invalid_bodies_are_422_with_pointers(client: Client, registry: Registry) -> None:
    cases = {
        "unknown type": (s3(type="ftp"), "/type"),
        "bad config": (s3(config={"bucket": "b", "colour": "red"}), "/config"),
        "server-stamped createdBy": (s3(createdBy="mallory"), "/createdBy"),
        "server-stamped appId": (s3(appId="other"), "/appId"),
        "unknown tenantId": (s3(tenantId="globex"), "/tenantId"),
    }
    for case, (document, pointer) in cases.items():
        response = client.post(PATH, json=document, headers=OWNER)
        assert response.status_code == 422, (case, response.text)
        assert problem_type(response) == "validation-failed"
        pointers = [e["pointer"] for e in response.json()["errors"]]
        assert any(p.startswith(pointer) for p in pointers), (case, pointers)
        no_secret(response)
    bad = client.post(PATH, json=s3(config={"bucket": "b"}), headers=OWNER).json()
    assert {"pointer": "/config", "message": "'region' is a required property"} in bad["errors"]
    assert client.get(PATH, headers=H).json()["connectors"] == []


def test_delete_restore_and_erase(client: Client, registry: Registry) -> None:
    connector_id = create(client, s3())
    uuid = decode_connector_id(connector_id)
    assert uuid is not None
    made = client.post(f"{API}/schemas", json=seed_create() | {"connectorId": str(uuid)},
                       headers=OWNER)
    assert made.status_code == 201, made.text
    schema_id = made.json()["id"]
    assert client.get(f"{API}/schemas/{schema_id}", headers=H).json()["connectorId"] == (
        connector_id)  # the UUID form is stored as the cnn_ id
    assert client.get(f"{PATH}/{connector_id}", headers=OWNER).json()["schemaCount"] == 1
    held = client.delete(f"{PATH}/{connector_id}", headers=OWNER)
    assert held.status_code == 409 and problem_type(held) == "connector-has-schemas"
    assert held.json()["schemaIds"] == [schema_id]

    deleted = client.delete(f"{PATH}/{connector_id}", params={"cascade": "true"},
                            headers=OWNER)
    assert deleted.status_code == 204, deleted.text
    gone = client.get(f"{PATH}/{connector_id}", headers=OWNER)
    assert gone.status_code == 404 and problem_type(gone) == "connector-deleted"
    shown = client.get(f"{PATH}/{connector_id}", params={"includeDeleted": "true"},
                       headers=OWNER)
    assert shown.status_code == 200 and shown.json()["deleted"] is True
    assert client.get(PATH, headers=OWNER).json()["connectors"] == []
    listed = client.get(PATH, params={"includeDeleted": "true"}, headers=OWNER).json()
    assert [c["id"] for c in listed["connectors"]] == [connector_id]
    assert client.get(f"{API}/schemas/{schema_id}", headers=H).status_code == 404
    orphan = client.post(f"{API}/schemas/{connector_id}/{schema_id}/restore", headers=OWNER)
    assert orphan.status_code == 409 and problem_type(orphan) == "connector-not-live"
    late = client.post(f"{API}/schemas", json=seed_create() | {"key": "late",
                       "connectorId": connector_id}, headers=OWNER)
    assert late.status_code == 422 and late.json()["errors"][0]["pointer"] == "/connectorId"

    restored = client.post(f"{PATH}/{connector_id}/restore", headers=OWNER)
    assert restored.status_code == 200, restored.text
    assert restored.json()["deleted"] is False and restored.json()["status"] == "active"
    again = client.post(f"{PATH}/{connector_id}/restore", headers=OWNER)
    assert again.status_code == 409 and problem_type(again) == "connector-not-deleted"
    assert restored.json()["schemaCount"] == 0  # its schemas come back one by one
    back = client.post(f"{API}/schemas/{connector_id}/{schema_id}/restore", headers=OWNER)
    assert back.status_code == 200, back.text
    assert client.get(f"{PATH}/{connector_id}", headers=OWNER).json()["schemaCount"] == 1

    denied = client.delete(f"{PATH}/{connector_id}/erase", headers=OWNER)
    assert denied.status_code == 403
    erased = client.delete(f"{PATH}/{connector_id}/erase", headers=H)
    assert erased.status_code == 204, erased.text
    for path in (f"{PATH}/{connector_id}", f"{PATH}/{connector_id}/revisions/1"):
        response = client.get(path, headers=H)
        assert response.status_code == 410, (path, response.text)
        assert problem_type(response) == "connector-erased"
    history = client.get(f"{PATH}/{connector_id}/history", headers=H).json()["history"]
    assert history[0]["changes"] == ["Erased"]
    assert client.get(f"{API}/schemas/{schema_id}", headers=H).status_code == 410
    assert client.delete(f"{PATH}/{connector_id}/erase", headers=H).status_code == 410
    assert client.post(PATH, json=s3(), headers=OWNER).status_code == 201  # name released


def test_only_the_owner_or_an_admin_changes_and_only_visible_ones_show(client: Client) -> None:
    private = create(client, s3())
    shared = create(client, s3(name="Shared", scope="org"))
    stranger = headers(roles=("editor",), subject="someone")
    listed = client.get(PATH, headers=stranger).json()["connectors"]
    assert [c["id"] for c in listed] == [shared]
    hidden = client.get(f"{PATH}/{private}", headers=stranger)
    assert hidden.status_code == 404 and problem_type(hidden) == "connector-not-found"
    forbidden = client.patch(f"{PATH}/{shared}", json={"enabled": False}, headers=stranger)
    assert forbidden.status_code == 403 and problem_type(forbidden) == "connector-forbidden"
    by_admin = client.patch(f"{PATH}/{private}", json={"enabled": False}, headers=H)
    assert by_admin.status_code == 200


def test_list_filters_and_pages(client: Client) -> None:
    ids = [create(client, s3(name=f"Storage {i}", tags={"env": "prod" if i % 2 else "dev"},
                             provider="aws" if i < 3 else "minio"))
           for i in range(5)]
    create(client, {"name": "Code", "type": "github", "config": {"repos": ["acme/app"]}})
    seen, cursor = [], None
    while True:
        params = {"limit": "2", "type": "s3"} | ({"cursor": cursor} if cursor else {})
        page = client.get(PATH, params=params, headers=OWNER)
        assert page.status_code == 200, page.text
        seen += [c["id"] for c in page.json()["connectors"]]
        cursor = page.json()["nextCursor"]
        if cursor is None:
            break
    assert seen == sorted(ids)
    prod = client.get(PATH, params={"tag": "env=prod"}, headers=OWNER).json()["connectors"]
    assert sorted(c["id"] for c in prod) == sorted([ids[1], ids[3]])
    minio = client.get(PATH, params={"provider": "minio"}, headers=OWNER).json()["connectors"]
    assert sorted(c["id"] for c in minio) == sorted(ids[3:])
    client.patch(f"{PATH}/{ids[0]}", json={"enabled": False}, headers=OWNER)
    off = client.get(PATH, params={"enabled": "false"}, headers=OWNER).json()["connectors"]
    assert [c["id"] for c in off] == [ids[0]]
    bad = client.get(PATH, params={"cursor": "nope"}, headers=OWNER)
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/query/cursor"
    scope = client.get(PATH, params={"scope": "nowhere"}, headers=OWNER)
    assert scope.status_code == 422


def test_another_tenants_connector_answers_like_an_unknown_one(client: Client) -> None:
    connector_id = create(client, s3(scope="org"))
    intruder = {**headers(tenant="globex"), "X-Request-Id": "same-for-both"}
    for suffix in ("", "/history", "/revisions/1"):
        answers = []
        for target in ("cnn_" + "7" * 26, connector_id, "not-an-id"):
            response = client.get(f"{PATH}/{target}{suffix}", headers=intruder)
            answers.append((response.status_code, response.json()))
        assert answers[0] == answers[1] == answers[2], suffix
        assert answers[0][0] == 404
    assert client.get(PATH, headers=intruder).json()["connectors"] == []


def test_the_seed_004_body_as_printed_creates_a_connector(client: Client) -> None:
    """The seed's own example, placeholder credentials included, is a valid create body."""
    seed = {
        "name": "Document Storage", "type": "s3", "collection": "col_abc123",
        "config": {"bucket": "my-documents", "region": "us-east-1", "prefix": "/documents/"},
        "credentials": {"accessKeyId": "AKIA...", "secretAccessKey": "..."},
    }
    response = client.post(PATH, json=seed, headers=OWNER)
    assert response.status_code == 201, response.text
    assert "AKIA..." not in response.text
    assert response.json()["credentialFields"] == ["accessKeyId", "secretAccessKey"]


def test_inline_credentials_are_a_credential_the_connector_owns(
    client: Client, registry: Registry, backend: Backend,
) -> None:
    connector_id = create(client, s3())
    shown = client.get(f"{PATH}/{connector_id}", headers=OWNER).json()
    credential_id = shown["credentialId"]
    assert credential_id.startswith("crd_")
    credential = client.get(f"{CREDENTIALS}/{credential_id}", headers=OWNER)
    assert credential.status_code == 200, credential.text
    no_secret(credential)
    body = credential.json()
    assert body["connectorId"] == connector_id and body["type"] == "basic-auth"
    assert body["name"] == "Document Storage credentials"
    assert body["dataFields"] == ["accessKeyId", "secretAccessKey"] and body["errors"] == []
    listed = client.get(f"{CREDENTIALS}", headers=OWNER).json()["credentials"]
    assert [c["id"] for c in listed] == [credential_id]

    # It changes, and goes, with its connector only.
    for method, path, payload in (
        ("PATCH", f"{CREDENTIALS}/{credential_id}", {"name": "Mine now"}),
        ("PUT", f"{CREDENTIALS}/{credential_id}",
         {"name": "x", "type": "basic-auth", "data": {"username": "u", "password": "p"}}),
        ("DELETE", f"{CREDENTIALS}/{credential_id}", None),
        ("DELETE", f"{CREDENTIALS}/{credential_id}/erase", None),
    ):
        refused = client.request(method, path, json=payload, headers=H)
        assert refused.status_code == 409, (method, path, refused.text)
        assert problem_type(refused) == "credential-owned"
        assert connector_id in refused.json()["detail"]
    assert client.get(f"{CREDENTIALS}/{credential_id}", headers=H).json()["version"] == 1

    rotated = "rotated-" + SECRET
    put = client.put(f"{PATH}/{connector_id}/credentials",
                     json={"accessKeyId": KEY_ID, "secretAccessKey": rotated}, headers=OWNER)
    assert put.status_code == 200, put.text
    history = client.get(f"{CREDENTIALS}/{credential_id}/history", headers=H).json()
    assert [e["changes"] for e in history["history"]] == [
        ["Changed credential data"], [f"Initial creation (credentials of connector "
                                      f"{connector_id})"]]
    uuid = decode_connector_id(connector_id)
    assert uuid is not None
    assert registry.app.connector_credentials(ADMIN_ACCESS, uuid)[1] == {
        "accessKeyId": KEY_ID, "secretAccessKey": rotated}

    erased = client.delete(f"{PATH}/{connector_id}/erase", headers=H)
    assert erased.status_code == 204, erased.text
    gone = client.get(f"{CREDENTIALS}/{credential_id}", headers=H)
    assert gone.status_code == 410 and problem_type(gone) == "credential-erased"
    dump = backend.dump()
    assert rotated not in dump and SECRET not in dump and KEY_ID not in dump


def test_credentials_given_later_make_the_credential_then(client: Client) -> None:
    document = s3()
    del document["credentials"]
    connector_id = create(client, document)
    assert client.get(f"{PATH}/{connector_id}", headers=OWNER).json()["credentialId"] is None
    patched = client.patch(f"{PATH}/{connector_id}", headers=OWNER,
                           json={"credentials": S3["credentials"]})
    assert patched.status_code == 200, patched.text
    no_secret(patched)
    credential_id = patched.json()["credentialId"]
    credential = client.get(f"{CREDENTIALS}/{credential_id}", headers=OWNER).json()
    assert credential["connectorId"] == connector_id and credential["version"] == 1
