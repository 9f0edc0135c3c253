"""The schemas API walked through the real Litestar app, on both backends."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from litestar.testing import TestClient

from domain.connectors.ids import decode_connector_id
from domain.ids import decode_schema_id
from tests.fixtures import API, cid, devices, headers, placed, seed_create

Client = TestClient[Any]
H = headers()


def create(client: Client, document: dict[str, Any]) -> str:
    response = client.post(f"{API}/schemas", json=document, headers=H)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def problem_type(response: Any) -> str:
    assert response.headers["content-type"].startswith("application/problem+json")
    return str(response.json()["type"]).rsplit("/", 1)[1]


def test_get_returns_the_document_with_an_etag(client: Client) -> None:
    schema_id = create(client, placed(devices()))
    response = client.get(f"{API}/schemas/{schema_id}", headers=H)
    assert response.status_code == 200
    body = response.json()
    assert response.headers["etag"] == '"1"'
    assert body["id"] == schema_id
    assert body["key"] == "devices"
    assert body["connectorId"] == cid("mdm-42")
    assert body["fields"][0] == {"name": "serial", "type": "string", "primary": True,
                                 "required": True, "description": "Hardware serial number"}
    assert body["relationships"] == [{"name": "owner", "target": "account",
                                      "cardinality": "one"}]
    assert body["createdBy"] == "admin@example.com" and body["deleted"] is False
    again = client.get(f"{API}/schemas/{schema_id}", headers={**H, "If-None-Match": '"1"'})
    assert again.status_code == 304
    stale = client.get(f"{API}/schemas/{schema_id}", headers={**H, "If-None-Match": '"9"'})
    assert stale.status_code == 200


def test_either_id_form_works_everywhere(client: Client) -> None:
    schema_id = create(client, placed(seed_create()))
    uuid = str(decode_schema_id(schema_id))
    for form in (schema_id, uuid, schema_id.lower()):
        assert client.get(f"{API}/schemas/{form}", headers=H).json()["id"] == schema_id
        assert client.get(f"{API}/schemas/{form}/history", headers=H).status_code == 200
    assert client.delete(f"{API}/schemas/{cid()}/{uuid}", headers=H).status_code == 204


def test_generators_predict_the_created_ids(client: Client) -> None:
    generated = client.get(f"{API}/generate/schema-id/{cid()}/account", headers=H).json()
    uuid = client.get(f"{API}/generate/schema-uuid/{cid()}/account", headers=H).json()
    assert generated == {"id": generated["id"], "connectorId": cid(), "key": "account"}
    created = create(client, placed(seed_create()))
    assert generated["id"] == created
    assert uuid["uuid"] == str(decode_schema_id(created))
    other_tenant = client.get(f"{API}/generate/schema-id/{cid()}/account",
                              headers=headers(tenant="globex")).json()
    assert other_tenant["id"] != created
    bad = client.get(f"{API}/generate/schema-id/{cid()}/bad%20key", headers=H)
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/path/id"


def test_create_with_an_existing_key_is_409_with_the_existing_id(client: Client) -> None:
    schema_id = create(client, placed(seed_create()))
    response = client.post(f"{API}/schemas", json=placed(seed_create()) | {"name": "Other"},
                           headers=H)
    assert response.status_code == 409
    assert response.json()["existingId"] == schema_id
    assert problem_type(response) == "schema-exists"


def test_put_rules(client: Client) -> None:
    # Making a field required breaks BACKWARD; this test is about the PUT's other rules.
    schema_id = create(client, placed(seed_create()) | {"compatibility": "NONE"})
    url = f"{API}/schemas/{schema_id}"
    same = client.put(url, json=placed(seed_create()), headers=H)
    assert same.json() == {"id": schema_id, "name": "Custom REST API", "status": "unchanged",
                           "version": 1}
    body = placed(seed_create())
    del body["connectorId"]
    body["fields"][1]["required"] = True
    stale = client.put(url, json=body, headers={**H, "If-Match": '"0"'})
    assert stale.status_code == 412 and stale.json()["currentVersion"] == 1
    updated = client.put(url, json=body, headers={**H, "If-Match": '"7", "1"'})
    assert updated.status_code == 200 and updated.json()["status"] == "updated"
    assert updated.headers["etag"] == '"2"'
    moved = client.put(url, json=placed(seed_create()) | {"connectorId": "elsewhere"}, headers=H)
    assert moved.status_code == 422 and moved.json()["errors"][0]["pointer"] == "/connectorId"
    rekeyed = client.put(url, json=placed(seed_create()) | {"key": "other"}, headers=H)
    assert rekeyed.status_code == 422 and rekeyed.json()["errors"][0]["pointer"] == "/key"
    history = client.get(f"{url}/history", headers=H).json()["history"]
    assert history[0]["changes"] == ["Changed field username: required false -> true"]


def test_delete_restore_cycle(client: Client) -> None:
    schema_id = create(client, placed(seed_create()))
    url = f"{API}/schemas/{schema_id}"
    assert client.delete(f"{API}/schemas/wrong/{schema_id}", headers=H).status_code == 404
    assert client.delete(f"{API}/schemas/{cid()}/{schema_id}", headers=H).status_code == 204
    gone = client.get(url, headers=H)
    assert gone.status_code == 404 and problem_type(gone) == "schema-deleted"
    visible = client.get(url, params={"includeDeleted": "true"}, headers=H)
    assert visible.status_code == 200 and visible.json()["deleted"] is True
    assert client.put(url, json=placed(seed_create()), headers=H).status_code == 404
    again = client.delete(f"{API}/schemas/{cid()}/{schema_id}", headers=H)
    assert again.status_code == 404
    restored = client.post(f"{API}/schemas/{cid()}/{schema_id}/restore", headers=H)
    assert restored.status_code == 200
    assert restored.json() == {"id": schema_id, "name": "Custom REST API", "status": "restored",
                               "version": 3}
    twice = client.post(f"{API}/schemas/{cid()}/{schema_id}/restore", headers=H)
    assert twice.status_code == 409
    history = client.get(f"{url}/history", headers=H).json()["history"]
    assert [e["changes"] for e in history] == [["Restored"], ["Deleted"], ["Initial creation"]]


def test_versions_are_immutable_snapshots(client: Client) -> None:
    schema_id = create(client, placed(seed_create()))
    url = f"{API}/schemas/{schema_id}"
    body = placed(seed_create()) | {"name": "Renamed"}
    client.put(url, json=body, headers=H)
    first = client.get(f"{url}/versions/1", headers=H)
    assert first.status_code == 200
    assert first.headers["cache-control"].endswith("immutable")
    assert first.json()["name"] == "Custom REST API" and first.json()["version"] == 1
    assert client.get(f"{url}/versions/2", headers=H).json()["name"] == "Renamed"
    for missing in ("3", "0", "abc", "99999999999"):
        assert client.get(f"{url}/versions/{missing}", headers=H).status_code == 404


def test_erase_then_everything_answers_gone(client: Client) -> None:
    schema_id = create(client, placed(seed_create()))
    url = f"{API}/schemas/{schema_id}"
    client.put(url, json=placed(seed_create()) | {"name": "Second"}, headers=H)
    erased = client.delete(f"{API}/schemas/{cid()}/{schema_id}/erase", headers=H)
    assert erased.status_code == 204, erased.text
    assert client.get(url, headers=H).status_code == 410
    assert client.get(f"{url}/versions/1", headers=H).status_code == 410
    assert client.put(url, json=placed(seed_create()), headers=H).status_code == 410
    erase_again = client.delete(f"{API}/schemas/{cid()}/{schema_id}/erase", headers=H)
    assert erase_again.status_code == 410
    (record,) = client.get(f"{url}/history", headers=H).json()["history"]
    assert record["changes"] == ["Erased"] and record["erasedVersions"] == 2
    assert record["version"] == 3 and set(record) == {
        "version", "changedAt", "changedBy", "changes", "erasedVersions"}
    listed = client.get(f"{API}/schemas", params={"includeDeleted": "true"}, headers=H).json()
    assert listed["schemas"] == []

    recreated = client.post(f"{API}/schemas", json=placed(seed_create()), headers=H)
    assert recreated.status_code == 201 and recreated.json()["version"] == 4
    history = client.get(f"{url}/history", headers=H).json()["history"]
    assert [(e["version"], e["changes"]) for e in history] == [
        (4, ["Initial creation"]), (3, ["Erased"])]


def test_list_filters_and_paginates(client: Client) -> None:
    ids = set()
    for index in range(5):
        body = placed(seed_create() | {"key": f"k{index}", "connectorId": f"c{index % 2}"})
        ids.add(create(client, body))
    ids.add(create(client, placed(devices())))
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"{API}/schemas", params=params, headers=H).json()
        seen += [s["id"] for s in page["schemas"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == sorted(ids)
    by_connector = client.get(f"{API}/schemas", params={"connectorId": cid("c0")},
                              headers=H).json()
    assert len(by_connector["schemas"]) == 3
    uuid_form = str(decode_connector_id(cid("c0")))
    by_uuid = client.get(f"{API}/schemas", params={"connectorId": uuid_form}, headers=H).json()
    assert by_uuid == by_connector
    by_type = client.get(f"{API}/schemas", params={"entityType": "device"}, headers=H).json()
    assert [s["entityType"] for s in by_type["schemas"]] == ["device"]
    client.delete(f"{API}/schemas/{cid('mdm-42')}/{by_type['schemas'][0]['id']}", headers=H)
    assert len(client.get(f"{API}/schemas", headers=H).json()["schemas"]) == 5
    everything = client.get(f"{API}/schemas", params={"includeDeleted": "true"}, headers=H)
    assert len(everything.json()["schemas"]) == 6


def test_model_schemas_are_the_validation_documents(client: Client) -> None:
    response = client.get(f"{API}/model/schemas", headers=H)
    assert response.status_code == 200
    documents = response.json()["schemas"]
    assert set(documents) == {"Schema", "Field", "Relationship", "FieldType"}
    assert "string[]" in documents["FieldType"]["enum"]


def test_health_and_openapi_need_no_credentials(client: Client) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    spec = client.get("/schema/openapi.json").json()
    erase = spec["paths"][f"{API}/schemas/{{cid}}/{{id}}/erase"]["delete"]
    assert "application/problem+json" in erase["responses"]["410"]["content"]
    body = spec["paths"][f"{API}/schemas"]["post"]["requestBody"]["content"]["application/json"]
    validator = Draft202012Validator(body["schema"])
    assert validator.is_valid(placed(seed_create()))
    assert not validator.is_valid(placed(seed_create()) | {"fields": [{"name": "a", "type": "x"}]})
    assert "$ref" not in str(body)


def test_tenants_are_isolated(client: Client) -> None:
    schema_id = create(client, placed(seed_create()))
    other = headers(tenant="globex")
    random_id = "sch_" + "1" * 26
    for template in ("{api}/schemas/{id}", "{api}/schemas/{id}/history",
                     "{api}/schemas/{id}/versions/1"):
        theirs = client.get(template.format(api=API, id=schema_id), headers=other)
        unknown = client.get(template.format(api=API, id=random_id), headers=other)
        assert theirs.status_code == unknown.status_code == 404
        assert problem_type(theirs) == problem_type(unknown)
    for method, template in (("PUT", "{api}/schemas/{id}"),
                             ("POST", "{api}/schemas/{id}/compatibility"),
                             ("DELETE", "{api}/schemas/{cid}/{id}"),
                             ("DELETE", "{api}/schemas/{cid}/{id}/erase"),
                             ("POST", "{api}/schemas/{cid}/{id}/restore")):
        response = client.request(method, template.format(api=API, id=schema_id, cid=cid()),
                                  json=placed(seed_create()), headers=other)
        assert response.status_code == 404, (method, template)
    assert client.get(f"{API}/schemas", headers=other).json()["schemas"] == []
    mine = client.get(f"{API}/schemas/{schema_id}", headers=H)
    assert mine.status_code == 200 and mine.json()["version"] == 1
