"""A connector's schemas and its credentials, through the real Litestar app on both backends:
``GET /connectors/{id}/schemas`` and ``PUT /connectors/{id}/credentials``."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from domain.connectors.ids import decode_connector_id
from registry.service import Registry
from tests.conftest import Backend
from tests.fixtures import API, connector_body, devices, headers, placed, seed_create

Client = TestClient[Any]
PATH = "/internal/v1/connectors"
H = headers()
OWNER = headers(roles=("editor",), subject="owner-1", email="owner@example.com")
TOKEN = "rotated-bearer-token-0123456789"
BEARER = {"authType": "bearer", "token": TOKEN}


def problem_type(response: Any) -> str:
    assert response.headers["content-type"].startswith("application/problem+json")
    return str(response.json()["type"]).rsplit("/", 1)[1]


def create_schema(client: Client, document: dict[str, Any]) -> str:
    response = client.post(f"{API}/schemas", json=document, headers=H)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def create_connector(client: Client, document: dict[str, Any], caller: Any = OWNER) -> str:
    response = client.post(PATH, json=document, headers=caller)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def listed(client: Client, connector_id: str, caller: Any = H, **params: str) -> list[str]:
    response = client.get(f"{PATH}/{connector_id}/schemas", params=params, headers=caller)
    assert response.status_code == 200, response.text
    return [s["id"] for s in response.json()["schemas"]]


def schema_count(client: Client, connector_id: str) -> int:
    shown = client.get(f"{PATH}/{connector_id}", headers=H).json()
    assert len(shown["schemas"]) == shown["schemaCount"]
    return int(shown["schemaCount"])


def test_a_connector_lists_its_own_schemas_and_counts_the_live_ones(client: Client) -> None:
    first = create_schema(client, placed(seed_create()))
    second = create_schema(client, placed(seed_create()) | {"key": "admins"})
    elsewhere = create_schema(client, placed(devices()))
    connector_id = placed(seed_create())["connectorId"]
    other_id = placed(devices())["connectorId"]

    assert listed(client, connector_id) == sorted([first, second])
    assert listed(client, other_id) == [elsewhere]
    assert schema_count(client, connector_id) == 2
    # The same documents, page and cursor as the schema list filtered on the connector.
    mine = client.get(f"{PATH}/{connector_id}/schemas", headers=H).json()
    assert mine == client.get(f"{API}/schemas", params={"connectorId": connector_id},
                              headers=H).json()
    by_uuid = str(decode_connector_id(connector_id))
    assert listed(client, by_uuid) == sorted([first, second])

    page = client.get(f"{PATH}/{connector_id}/schemas", params={"limit": "1"}, headers=H).json()
    assert [s["id"] for s in page["schemas"]] == [min(first, second)]
    rest = listed(client, connector_id, cursor=page["nextCursor"])
    assert rest == [max(first, second)]
    assert listed(client, connector_id, entityType="device") == []
    bad = client.get(f"{PATH}/{connector_id}/schemas", params={"cursor": "nope"}, headers=H)
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/query/cursor"

    deleted = client.delete(f"{API}/schemas/{connector_id}/{first}", headers=H)
    assert deleted.status_code == 204, deleted.text
    assert listed(client, connector_id) == [second]
    with_deleted = client.get(f"{PATH}/{connector_id}/schemas",
                              params={"includeDeleted": "true"}, headers=H).json()["schemas"]
    assert {s["id"]: s["deleted"] for s in with_deleted} == {first: True, second: False}
    assert schema_count(client, connector_id) == 1

    restored = client.post(f"{API}/schemas/{connector_id}/{first}/restore", headers=H)
    assert restored.status_code == 200, restored.text
    assert listed(client, connector_id) == sorted([first, second])
    assert schema_count(client, connector_id) == 2
    history = client.get(f"{PATH}/{connector_id}/history", headers=H).json()["history"]
    assert [e["changes"] for e in history[:2]] == [[f"Restored schema: {first}"],
                                                   [f"Deleted schema: {first}"]]


def test_an_erased_schema_leaves_its_connector(client: Client) -> None:
    kept = create_schema(client, placed(seed_create()))
    erased = create_schema(client, placed(seed_create()) | {"key": "gone"})
    connector_id = placed(seed_create())["connectorId"]
    response = client.delete(f"{API}/schemas/{connector_id}/{erased}/erase", headers=H)
    assert response.status_code == 204, response.text
    assert listed(client, connector_id, includeDeleted="true") == [kept]
    assert schema_count(client, connector_id) == 1
    history = client.get(f"{PATH}/{connector_id}/history", headers=H).json()["history"]
    assert history[0]["changes"] == [f"Erased schema: {erased}"]
    again = client.delete(f"{API}/schemas/{connector_id}/{erased}/erase", headers=H)
    assert again.status_code == 410 and problem_type(again) == "schema-erased"


def test_a_deleted_connector_lists_its_schemas_only_when_asked_and_an_erased_one_never(
    client: Client,
) -> None:
    schema_id = create_schema(client, placed(seed_create()))
    connector_id = placed(seed_create())["connectorId"]
    gone = client.delete(f"{PATH}/{connector_id}", params={"cascade": "true"}, headers=H)
    assert gone.status_code == 204, gone.text

    hidden = client.get(f"{PATH}/{connector_id}/schemas", headers=H)
    assert hidden.status_code == 404 and problem_type(hidden) == "connector-deleted"
    shown = client.get(f"{PATH}/{connector_id}/schemas", params={"includeDeleted": "true"},
                       headers=H).json()["schemas"]
    assert [(s["id"], s["deleted"]) for s in shown] == [(schema_id, True)]

    assert client.delete(f"{PATH}/{connector_id}/erase", headers=H).status_code == 204
    for params in ({}, {"includeDeleted": "true"}):
        erased = client.get(f"{PATH}/{connector_id}/schemas", params=params, headers=H)
        assert erased.status_code == 410 and problem_type(erased) == "connector-erased"


def test_a_connector_the_caller_cannot_see_answers_like_an_unknown_one(client: Client) -> None:
    alice = headers(roles=("editor",), subject="alice", email=None)
    private = create_connector(client, connector_body("Alice's own", scope="user"), alice)
    assert listed(client, private, alice) == []
    assert listed(client, private, H) == []  # an admin sees every connector

    bob = {**headers(roles=("editor", "collector"), subject="bob", email=None),
           "X-Request-Id": "same-for-both"}
    answers = []
    for target in ("cnn_" + "7" * 26, private, "not-an-id"):
        response = client.get(f"{PATH}/{target}/schemas", headers=bob)
        answers.append((response.status_code, response.json()))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0] == 404 and answers[0][1]["type"].endswith("/connector-not-found")


def test_credentials_are_replaced_and_never_shown(client: Client) -> None:
    connector_id = create_connector(client, connector_body("Rotated"))
    response = client.put(f"{PATH}/{connector_id}/credentials", json=BEARER,
                          headers={**OWNER, "If-Match": '"1"'})
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    body = response.json()
    assert body["id"] == connector_id and body["version"] == 2
    assert body["credentialsSet"] is True and body["credentialFields"] == ["token"]
    assert body["authType"] == "bearer" and body["credentialLastRotatedAt"] is not None
    assert "credentials" not in body

    history = client.get(f"{PATH}/{connector_id}/history", headers=H).json()["history"]
    assert [e["changes"] for e in history] == [["Changed credentials"], ["Initial creation"]]
    assert history[0]["changedBy"] == "owner@example.com"
    for path in ("", "/revisions/2", "/history", "/schemas"):
        read = client.get(f"{PATH}/{connector_id}{path}", headers=H)
        assert read.status_code == 200, (path, read.text)
        assert TOKEN not in read.text
    assert TOKEN not in client.get(PATH, headers=H).text
    assert TOKEN not in response.text

    by_uuid = str(decode_connector_id(connector_id))
    again = client.put(f"{PATH}/{by_uuid}/credentials", json={"authType": "none"}, headers=H)
    assert again.status_code == 200, again.text
    assert again.json()["credentialFields"] == [] and again.json()["version"] == 3


def test_bad_credentials_are_422_with_pointers_into_the_body_and_change_nothing(
    client: Client, registry: Registry
) -> None:
    connector_id = create_connector(client, connector_body("Strict"))
    uuid = decode_connector_id(connector_id)
    assert uuid is not None
    cases = {
        "missing token": ({"authType": "bearer"}, [""]),
        "unknown key": (BEARER | {"colour": "red"}, ["/colour"]),
        "wrong type": ({"authType": "bearer", "token": 7}, ["/token"]),
        "unknown auth type": ({"authType": "kerberos"}, ["/authType"]),
        "not an object": ([TOKEN], [""]),
    }
    for case, (document, pointers) in cases.items():
        response = client.put(f"{PATH}/{connector_id}/credentials", json=document, headers=OWNER)
        assert response.status_code == 422, (case, response.text)
        assert problem_type(response) == "validation-failed"
        assert [e["pointer"] for e in response.json()["errors"]] == pointers, case
    not_json = client.put(f"{PATH}/{connector_id}/credentials", content=b"token=x",
                          headers={**OWNER, "Content-Type": "text/plain"})
    assert not_json.status_code == 415
    state = registry.connectors.get("acme", uuid)
    assert state is not None and state.revision == 1 and not state.credentials_set
    assert len(client.get(f"{PATH}/{connector_id}/history", headers=H).json()["history"]) == 1


def test_a_stale_if_match_is_412_before_the_body_is_checked(client: Client) -> None:
    connector_id = create_connector(client, connector_body("Raced"))
    assert client.patch(f"{PATH}/{connector_id}", json={"enabled": False},
                        headers=OWNER).status_code == 200
    for document in (BEARER, {"authType": "bearer"}):
        stale = client.put(f"{PATH}/{connector_id}/credentials", json=document,
                           headers={**OWNER, "If-Match": '"1"'})
        assert stale.status_code == 412, stale.text
        assert problem_type(stale) == "stale-version" and stale.json()["currentVersion"] == 2
    weak = client.put(f"{PATH}/{connector_id}/credentials", json=BEARER,
                      headers={**OWNER, "If-Match": 'W/"2"'})
    assert weak.status_code == 412
    current = client.put(f"{PATH}/{connector_id}/credentials", json=BEARER,
                         headers={**OWNER, "If-Match": '"1", "2"'})
    assert current.status_code == 200 and current.headers["etag"] == '"3"'


def test_only_the_owner_or_an_admin_replaces_credentials(client: Client) -> None:
    connector_id = create_connector(client, connector_body("Shared"))
    stranger = headers(roles=("editor",), subject="someone", email=None)
    assert listed(client, connector_id, stranger) == []  # org scope: it may see it
    forbidden = client.put(f"{PATH}/{connector_id}/credentials", json=BEARER, headers=stranger)
    assert forbidden.status_code == 403, forbidden.text
    assert problem_type(forbidden) == "connector-forbidden"
    reader = client.put(f"{PATH}/{connector_id}/credentials", json=BEARER,
                        headers=headers(roles=("collector", "auditor"), subject="owner-1"))
    assert reader.status_code == 403 and problem_type(reader) == "forbidden"
    assert client.get(f"{PATH}/{connector_id}", headers=H).json()["version"] == 1
    by_admin = client.put(f"{PATH}/{connector_id}/credentials", json=BEARER, headers=H)
    assert by_admin.status_code == 200, by_admin.text
    deleted = client.delete(f"{PATH}/{connector_id}", headers=OWNER)
    assert deleted.status_code == 204, deleted.text
    after = client.put(f"{PATH}/{connector_id}/credentials", json=BEARER, headers=OWNER)
    assert after.status_code == 404 and problem_type(after) == "connector-deleted"


def test_erasing_a_connector_with_two_schemas_leaves_nothing_of_them(
    client: Client, backend: Backend
) -> None:
    secret = "sk-GNUSECRET-0123456789abcdef"
    body = connector_body("Connector WAPITI", config={
        "baseUrl": "https://wapiti.example.com", "allowedHosts": ["wapiti.example.com"]},
        credentials={"authType": "bearer", "token": secret})
    gone = create_connector(client, body)
    kept = create_connector(client, connector_body("Connector OKAPI", config={
        "baseUrl": "https://okapi.example.com", "allowedHosts": ["okapi.example.com"]}))
    schemas = [create_schema(client, seed_create() | {
        "connectorId": gone, "key": key, "name": f"Schema {key}", "fields": [
            {"name": f"field_{key}", "type": "string", "primary": True}]})
        for key in ("WAPITIA", "WAPITIB")]
    other = create_schema(client, seed_create() | {"connectorId": kept, "name": "Schema OKAPI",
                                                   "fields": [{"name": "field_OKAPI",
                                                               "type": "string",
                                                               "primary": True}]})
    assert "WAPITI" in backend.dump()

    erased = client.delete(f"{PATH}/{gone}/erase", headers=H)

    assert erased.status_code == 204, erased.text
    for path in (f"{PATH}/{gone}", f"{PATH}/{gone}/revisions/1", f"{PATH}/{gone}/schemas",
                 *(f"{API}/schemas/{s}" for s in schemas),
                 *(f"{API}/schemas/{s}/versions/1" for s in schemas)):
        assert client.get(path, headers=H).status_code == 410, path
    for schema_id in schemas:
        history = client.get(f"{API}/schemas/{schema_id}/history", headers=H).json()
        assert [h["changes"] for h in history["history"]] == [["Erased"]]
    dump = backend.dump()
    for text in ("WAPITI", "wapiti.example.com", secret, "GNUSECRET"):
        assert text not in dump, text
    for text in ("OKAPI", "okapi.example.com", "field_OKAPI"):
        assert text in dump, text
    assert client.get(f"{API}/schemas/{other}", headers=H).status_code == 200
    assert listed(client, kept) == [other]


def test_the_groups_claim_decides_who_sees_a_group_connector(client: Client) -> None:
    member = headers(roles=("editor",), subject="member-1", groups=("team-a", "team-b"))
    outsider = headers(roles=("editor",), subject="outsider-1", groups=("team-c",))
    connector_id = create_connector(client, connector_body(
        "Team connector", scope="group", groupId="team-a"), caller=H)
    assert client.get(f"{PATH}/{connector_id}", headers=member).status_code == 200
    hidden = client.get(f"{PATH}/{connector_id}", headers=outsider)
    unknown = client.get(f"{PATH}/cnn_{'0' * 26}", headers=outsider)
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json()["detail"] == unknown.json()["detail"]
    assert [c["id"] for c in client.get(PATH, headers=member).json()["connectors"]] == [
        connector_id]
    assert client.get(PATH, headers=outsider).json()["connectors"] == []

    made = client.post(f"{API}/schemas", json=seed_create() | {"connectorId": connector_id},
                       headers=member)
    assert made.status_code == 201, made.text
    refused = client.post(f"{API}/schemas", json=seed_create() | {
        "connectorId": connector_id, "key": "other"}, headers=outsider)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["pointer"] == "/connectorId"
    gone = client.delete(f"{API}/schemas/{connector_id}/{made.json()['id']}", headers=outsider)
    assert gone.status_code == 403 and problem_type(gone) == "schema-forbidden"
    assert listed(client, connector_id, caller=member) == [made.json()["id"]]
