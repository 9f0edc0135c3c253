"""The credentials API walked through the real Litestar app, on both backends.

The one promise above all: a credential's data is written, never read back. No response,
history entry, log line or database row holds a value of it, before or after a rotation, and
an erase leaves not even its name.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from litestar.testing import TestClient

from api.models import CredentialOut
from domain.credentials.ids import decode_credential_id
from domain.credentials.types import TYPE_NAMES
from registry.service import Registry
from tests.conftest import Backend
from tests.fixtures import headers

Client = TestClient[Any]
PATH = "/internal/v1/credentials"
H = headers()
EDITOR = headers(roles=("editor",), subject="editor-1", email="editor@example.com")
PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIBcertMARKERcert\n-----END CERTIFICATE-----\n"
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEkeyMARKERkey\n-----END PRIVATE KEY-----\n"

VALID: dict[str, dict[str, Any]] = {
    "none": {},
    "string": {"value": "sk-MARKER-string"},
    "binary": {"base64": "TUFSS0VSYmluYXJ5"},
    "basic-auth": {"username": "user-MARKER", "password": "pw-MARKER-basic"},
    "oauth2-client": {"clientId": "client-MARKER", "clientSecret": "secret-MARKER-client",
                      "tokenUrl": "https://auth.example.com/token", "scopes": ["read"]},
    "oauth2-code": {"clientId": "client-MARKER", "clientSecret": "secret-MARKER-code",
                    "authorizationUrl": "https://auth.example.com/authorize",
                    "tokenUrl": "https://auth.example.com/token",
                    "refreshToken": "refresh-MARKER-code"},
    "oauth2-password": {"clientId": "client-MARKER", "tokenUrl": "https://auth.example.com/t",
                        "username": "user-MARKER", "password": "pw-MARKER-password"},
    "oauth2-token": {"accessToken": "access-MARKER-token", "refreshToken": "refresh-MARKER",
                     "expiresAt": "2030-01-01T00:00:00Z", "tokenType": "Bearer"},
    "custom-function": {"name": "sign_request", "parameters": {"salt": "salt-MARKER"}},
    "certificate": {"certificate": PEM_CERT, "privateKey": PEM_KEY,
                    "passphrase": "pass-MARKER-cert"},
    "jwt-bearer": {"issuer": "iss-MARKER", "subject": "sub-MARKER",
                   "audience": "https://auth.example.com", "privateKey": PEM_KEY,
                   "algorithm": "RS256"},
}
"""One valid data object per type; every value carries MARKER, so a leak is easy to find."""

INVALID: dict[str, tuple[dict[str, Any], str]] = {
    "none": ({"value": "x-MARKER"}, "/data/value"),
    "string": ({}, "/data"),
    "binary": ({"base64": "not base64!MARKER"}, "/data/base64"),
    "basic-auth": ({"username": "u", "password": "p", "extra": "MARKER"}, "/data/extra"),
    "oauth2-client": ({"clientId": "c", "clientSecret": "s-MARKER",
                       "tokenUrl": "http://plain.example.com"}, "/data/tokenUrl"),
    "oauth2-code": ({"clientId": "c", "clientSecret": "s-MARKER",
                     "tokenUrl": "https://a.example.com"}, "/data"),
    "oauth2-password": ({"clientId": "c", "tokenUrl": "https://a.example.com", "username": "u",
                         "password": 42}, "/data/password"),
    "oauth2-token": ({"accessToken": "a-MARKER", "expiresAt": "soon"}, "/data/expiresAt"),
    "custom-function": ({"name": "fn", "parameters": {"key": 42, "other": ["MARKER"]}},
                        "/data/parameters/key"),
    "certificate": ({"certificate": "MARKER", "privateKey": PEM_KEY}, "/data/certificate"),
    "jwt-bearer": ({"issuer": "i", "subject": "s", "audience": "a", "privateKey": PEM_KEY,
                    "algorithm": "HS256"}, "/data/algorithm"),
}


def body(type_name: str = "basic-auth", name: str = "Billing API", **more: Any) -> dict[str, Any]:
    return {"name": name, "type": type_name, "data": VALID[type_name], **more}


def create(client: Client, document: dict[str, Any], caller: Any = EDITOR) -> str:
    response = client.post(PATH, json=document, headers=caller)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def problem_type(response: Any) -> str:
    assert response.headers["content-type"].startswith("application/problem+json")
    return str(response.json()["type"]).rsplit("/", 1)[1]


def no_data(text: str) -> None:
    assert "MARKER" not in text


def test_every_type_is_covered() -> None:
    assert set(VALID) == set(INVALID) == set(TYPE_NAMES) and len(TYPE_NAMES) == 11


@pytest.mark.parametrize("type_name", TYPE_NAMES)
def test_valid_data_of_every_type_is_accepted_and_never_shown(
    client: Client, type_name: str
) -> None:
    response = client.post(PATH, json=body(type_name), headers=EDITOR)
    assert response.status_code == 201, response.text
    no_data(response.text)
    shown = response.json()
    assert shown["id"].startswith("crd_") and len(shown["id"]) == 30
    assert response.headers["location"] == f"{PATH}/{shown['id']}"
    assert shown["type"] == type_name and shown["dataSet"] is True
    assert shown["dataFields"] == sorted(VALID[type_name]) and shown["errors"] == []
    assert shown["usages"] == [] and "data" not in shown
    got = client.get(f"{PATH}/{shown['id']}", headers=EDITOR)
    assert got.status_code == 200 and got.json() == shown
    no_data(got.text)


@pytest.mark.parametrize("type_name", TYPE_NAMES)
def test_invalid_data_of_every_type_answers_422_with_pointers_and_no_value(
    client: Client, type_name: str
) -> None:
    data, pointer = INVALID[type_name]
    response = client.post(PATH, json={"name": "Bad", "type": type_name, "data": data},
                           headers=EDITOR)
    assert response.status_code == 422, response.text
    assert problem_type(response) == "validation-failed"
    assert pointer in [e["pointer"] for e in response.json()["errors"]]
    no_data(response.text)
    assert client.get(PATH, headers=EDITOR).json()["credentials"] == []


def test_create_refuses_missing_data_unknown_types_and_server_stamped_fields(
    client: Client
) -> None:
    cases = [({"name": "x", "type": "string"}, "/data"),
             ({"name": "x", "type": "kerberos", "data": {}}, "/type"),
             (body(id="crd_" + "0" * 26), "/id"), (body(tenantId="acme"), "/tenantId"),
             (body(createdBy="me"), "/createdBy"), (body(expiresAt="tomorrow"), "/expiresAt"),
             (body(name=" padded"), "/name")]
    for document, pointer in cases:
        response = client.post(PATH, json=document, headers=EDITOR)
        assert response.status_code == 422, (document, response.text)
        assert pointer in [e["pointer"] for e in response.json()["errors"]], response.text


@pytest.mark.parametrize("data", ["MARKER-as-text", ["MARKER"], 12345678,
                                  {"value": ["MARKER"]}, {"value": "MARKER" * 2000}])
def test_no_violation_echoes_the_data_sent(client: Client, data: Any) -> None:
    response = client.post(PATH, json={"name": "x", "type": "string", "data": data},
                           headers=EDITOR)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["pointer"].startswith("/data")
    no_data(response.text)
    assert "12345678" not in response.text


def test_get_accepts_the_uuid_form_and_answers_etag_and_304(client: Client) -> None:
    credential_id = create(client, body())
    uuid = str(decode_credential_id(credential_id))
    got = client.get(f"{PATH}/{uuid}", headers=H)
    assert got.json()["id"] == credential_id and got.headers["etag"] == '"1"'
    assert set(got.json()) == {CredentialOut.__struct_encode_fields__[i]
                               for i in range(len(CredentialOut.__struct_fields__))}
    again = client.get(f"{PATH}/{credential_id}", headers={**H, "If-None-Match": '"1"'})
    assert again.status_code == 304
    assert client.get(f"{PATH}/not-an-id", headers=H).status_code == 404


def test_patch_rotates_renames_and_checks_if_match(client: Client) -> None:
    credential_id = create(client, body())
    url = f"{PATH}/{credential_id}"
    stale = client.patch(url, json={"name": "Other"}, headers={**EDITOR, "If-Match": '"7"'})
    assert stale.status_code == 412 and stale.json()["currentVersion"] == 1
    rotated = {"username": "user-MARKER", "password": "pw-MARKER-rotated"}
    response = client.patch(url, json={"name": "Billing v2", "data": rotated,
                                       "expiresAt": "2031-05-01T10:00:00+02:00"},
                            headers={**EDITOR, "If-Match": '"1"',
                                     "Content-Type": "application/merge-patch+json"})
    assert response.status_code == 200, response.text
    no_data(response.text)
    shown = response.json()
    assert shown["version"] == 2 and shown["name"] == "Billing v2"
    assert shown["expiresAt"] == "2031-05-01T08:00:00.000000Z"
    assert shown["rotatedAt"] == shown["updatedAt"] != shown["createdAt"]
    bad = client.patch(url, json={"data": {"username": "u"}}, headers=EDITOR)
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/data"
    assert "'password' is a required property" in bad.text
    removed = client.patch(url, json={"data": None}, headers=EDITOR)
    assert removed.status_code == 422
    unchanged = client.patch(url, json={"name": "Billing v2"}, headers=EDITOR)
    assert unchanged.json()["version"] == 2

    history = client.get(f"{url}/history", headers=H)
    assert [h["changes"] for h in history.json()["history"]] == [
        ["Renamed credential: Billing API -> Billing v2",
         "Changed expiresAt: null -> 2031-05-01T08:00:00.000000Z", "Changed credential data"],
        ["Initial creation"],
    ]
    no_data(history.text)
    first = client.get(f"{url}/versions/1", headers=H)
    assert first.json()["name"] == "Billing API" and first.headers["etag"] == '"1"'
    assert client.get(f"{url}/versions/3", headers=H).status_code == 404


def test_put_replaces_keeps_data_when_left_out_and_refuses_a_type_change(
    client: Client
) -> None:
    credential_id = create(client, body(expiresAt="2030-01-01T00:00:00Z"))
    url = f"{PATH}/{credential_id}"
    kept = client.put(url, json={"name": "Renamed", "type": "basic-auth"},
                      headers={**EDITOR, "If-Match": '"1"'})
    assert kept.status_code == 200, kept.text
    assert kept.json()["expiresAt"] is None and kept.json()["dataFields"] == [
        "password", "username"]
    assert kept.json()["rotatedAt"] == kept.json()["createdAt"]
    stale = client.put(url, json={"name": "x", "type": "basic-auth"},
                       headers={**EDITOR, "If-Match": '"1"'})
    assert stale.status_code == 412
    retyped = client.put(url, json={"name": "x", "type": "string", "data": VALID["string"]},
                         headers=EDITOR)
    assert retyped.status_code == 422 and retyped.json()["errors"][0]["pointer"] == "/type"
    echoed = client.put(url, json=kept.json(), headers=EDITOR)
    assert echoed.status_code == 200 and echoed.json()["version"] == 2
    changes = [h["changes"] for h in client.get(f"{url}/history", headers=H).json()["history"]]
    assert changes[0] == ["Renamed credential: Billing API -> Renamed",
                          "Changed expiresAt: 2030-01-01T00:00:00.000000Z -> null"]


def test_delete_restore_erase_and_410(client: Client, backend: Backend) -> None:
    credential_id = create(client, body(name="Doomed-NAME"))
    keeper = create(client, body(name="Keeper-NAME", type_name="string"))
    url = f"{PATH}/{credential_id}"
    assert client.delete(url, headers=EDITOR).status_code == 204
    assert problem_type(client.get(url, headers=H)) == "credential-deleted"
    assert client.get(f"{url}?includeDeleted=true", headers=H).json()["deleted"] is True
    assert [c["id"] for c in client.get(PATH, headers=H).json()["credentials"]] == [keeper]
    assert client.patch(url, json={"name": "x"}, headers=EDITOR).status_code == 404
    restored = client.post(f"{url}/restore", headers=EDITOR)
    assert restored.status_code == 200 and restored.json()["version"] == 3
    assert problem_type(client.post(f"{url}/restore", headers=EDITOR)) == (
        "credential-not-deleted")
    assert client.delete(f"{url}/erase", headers=EDITOR).status_code == 403
    assert client.delete(f"{url}/erase", headers=H).status_code == 204
    assert problem_type(client.get(url, headers=H)) == "credential-erased"
    assert problem_type(client.get(f"{url}/versions/1", headers=H)) == "credential-erased"
    assert client.delete(url, headers=EDITOR).status_code == 410
    history = client.get(f"{url}/history", headers=H).json()["history"]
    assert [h["changes"] for h in history] == [["Erased"]] and history[0]["erasedVersions"] == 3
    dump = backend.dump()
    assert "Doomed-NAME" not in dump and "MARKER" not in dump and "Keeper-NAME" in dump


def test_data_is_in_no_response_history_log_or_dump_even_after_rotation(
    client: Client, backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ids = [create(client, body(t, name=f"Leak check {t}")) for t in TYPE_NAMES]
    texts = []
    for credential_id in ids:
        url = f"{PATH}/{credential_id}"
        texts.append(client.get(url, headers=H).text)
        texts.append(client.get(f"{url}/history", headers=H).text)
        texts.append(client.get(f"{url}/versions/1", headers=H).text)
    rotated = client.patch(f"{PATH}/{ids[1]}", json={"data": {"value": "sk-MARKER-rotated"}},
                           headers=EDITOR)
    texts += [rotated.text, client.get(PATH, headers=H).text,
              client.get(f"{PATH}/{ids[1]}/history", headers=H).text]
    for text in texts:
        no_data(text)
    no_data(caplog.text)
    no_data(backend.dump())
    assert "Leak check string" in backend.dump()


def test_another_tenants_credential_answers_exactly_like_an_unknown_one(client: Client) -> None:
    credential_id = create(client, body())
    intruder = {**headers(tenant="globex"), "X-Request-Id": "same"}
    unknown = "crd_" + "7" * 26
    for method, suffix, json in [("GET", "", None), ("GET", "/history", None),
                                 ("GET", "/versions/1", None),
                                 ("PATCH", "", {"name": "x"}),
                                 ("PUT", "", {"name": "x", "type": "basic-auth"}),
                                 ("DELETE", "", None), ("POST", "/restore", None),
                                 ("DELETE", "/erase", None)]:
        answers = [(r.status_code, r.json()) for r in (
            client.request(method, f"{PATH}/{target}{suffix}", headers=intruder, json=json)
            for target in (unknown, credential_id))]
        assert answers[0] == answers[1] and answers[0][0] == 404, (method, suffix, answers)
    assert client.get(PATH, headers=intruder).json()["credentials"] == []
    assert client.get(f"{PATH}/{credential_id}", headers=H).json()["version"] == 1


def test_list_pages_and_filters_by_type(client: Client) -> None:
    made = sorted(create(client, body(t, name=f"C {t}")) for t in ("string", "string", "none"))
    first = client.get(f"{PATH}?limit=2", headers=H).json()
    second = client.get(f"{PATH}?limit=2&cursor={first['nextCursor']}", headers=H).json()
    assert [c["id"] for c in first["credentials"] + second["credentials"]] == made
    assert second["nextCursor"] is None
    strings = client.get(f"{PATH}?type=string", headers=H).json()["credentials"]
    assert len(strings) == 2 and {c["type"] for c in strings} == {"string"}
    assert client.get(f"{PATH}?type=kerberos", headers=H).status_code == 422
    assert client.get(f"{PATH}?cursor=nonsense", headers=H).status_code == 422


def test_the_registry_reads_credentials_back_after_a_rebuild(
    client: Client, registry: Registry
) -> None:
    live = create(client, body(name="Live"))
    gone = create(client, body(name="Gone"))
    client.delete(f"{PATH}/{gone}", headers=EDITOR)
    before = client.get(f"{PATH}?includeDeleted=true", headers=H).json()
    registry.rebuild()
    assert client.get(f"{PATH}?includeDeleted=true", headers=H).json() == before
    assert [c["id"] for c in before["credentials"]] == sorted([live, gone])
