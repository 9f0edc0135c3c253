"""Schema evolution through the real app, on both backends: idempotent create, fingerprints,
the diff of two versions, and reads as of a past moment."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar.testing import TestClient

from domain.common import iso_timestamp
from domain.model import SchemaContent, fingerprint
from registry.service import Registry
from tests.fixtures import API, cid, headers, placed, seed_create

Client = TestClient[Any]
H = headers()
OTHER = headers(tenant="globex")


def now() -> str:
    return iso_timestamp(datetime.now(UTC)) or ""


def create(client: Client, document: dict[str, Any]) -> str:
    response = client.post(f"{API}/schemas", json=document, headers=H)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def put(client: Client, schema_id: str, document: dict[str, Any]) -> None:
    response = client.put(f"{API}/schemas/{schema_id}", json=document, headers=H)
    assert response.status_code == 200 and response.json()["status"] == "updated", response.text


def slug(response: Any) -> str:
    assert response.headers["content-type"].startswith("application/problem+json")
    return str(response.json()["type"]).rsplit("/", 1)[1]


def test_reposting_the_seed_create_body_is_unchanged(client: Client, registry: Registry) -> None:
    schema_id = create(client, placed(seed_create()))
    before = registry.app.recorder.max_notification_id()
    reordered = placed(seed_create())
    reordered["fields"].reverse()  # order is not content
    for body in (placed(seed_create()), reordered):
        again = client.post(f"{API}/schemas", json=body, headers=H)
        assert again.status_code == 200, again.text
        assert again.json() == {"id": schema_id, "name": "Custom REST API",
                                "status": "unchanged", "version": 1}
        assert again.headers["location"].endswith(f"/schemas/{schema_id}")
    assert registry.app.recorder.max_notification_id() == before + 2  # two audit records only
    changed = client.post(f"{API}/schemas", json=placed(seed_create()) | {"name": "Other"},
                          headers=H)
    assert changed.status_code == 409 and slug(changed) == "schema-exists"
    client.delete(f"{API}/schemas/{cid()}/{schema_id}", headers=H)
    deleted = client.post(f"{API}/schemas", json=placed(seed_create()), headers=H)
    assert deleted.status_code == 409 and "soft-deleted" in deleted.json()["detail"]


def test_fingerprints_in_documents_and_the_content_lookup(
    client: Client, registry: Registry
) -> None:
    schema_id = create(client, placed(seed_create()))
    body = client.get(f"{API}/schemas/{schema_id}", headers=H).json()
    content = SchemaContent.from_document(body)
    assert body["fingerprint"] == fingerprint(content)
    version = client.get(f"{API}/schemas/{schema_id}/versions/1", headers=H).json()
    assert version["fingerprint"] == body["fingerprint"]
    assert client.put(f"{API}/schemas/{schema_id}", json=body, headers=H).json()["status"] == (
        "unchanged")  # a document read back, fingerprint included, is a valid body

    def found(print_: str, who: dict[str, str] = H, **params: str) -> list[str]:
        response = client.get(f"{API}/schemas", params={"fingerprint": print_, **params},
                              headers=who)
        assert response.status_code == 200, response.text
        return [s["id"] for s in response.json()["schemas"]]

    assert found(body["fingerprint"]) == [schema_id]
    assert found(body["fingerprint"], OTHER) == []
    assert found("0" * 64) == []
    renamed = placed(seed_create()) | {"name": "Renamed"}
    put(client, schema_id, renamed)
    assert found(body["fingerprint"]) == []
    assert found(body["fingerprint"], asOf=now()) == []
    new_print = client.get(f"{API}/schemas/{schema_id}", headers=H).json()["fingerprint"]
    assert found(new_print) == [schema_id]
    registry.rebuild()
    assert found(new_print) == [schema_id] and found(new_print, asOf=now()) == [schema_id]
    bad = client.get(f"{API}/schemas", params={"fingerprint": "A" * 64}, headers=H)
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/query/fingerprint"


def evolve(client: Client) -> str:
    """Version 1 and four changes: a field added, one renamed, one retyped, a relationship
    (in mode NONE: a required field added breaks the default BACKWARD)."""
    document = placed(seed_create()) | {"compatibility": "NONE"}
    schema_id = create(client, document)
    document["fields"].append({"name": "age", "type": "integer", "required": True})
    put(client, schema_id, document)
    document["fields"][2]["name"] = "mail"
    put(client, schema_id, document)
    document["fields"][-1]["type"] = "number"
    put(client, schema_id, document)
    document["relationships"] = [{"name": "owner", "target": "group"}]
    put(client, schema_id, document)
    return schema_id


def test_diff_between_versions(client: Client) -> None:
    schema_id = evolve(client)
    url = f"{API}/schemas/{schema_id}/diff"
    whole = client.get(url, params={"from": "1", "to": "5"}, headers=H)
    assert whole.status_code == 200, whole.text
    assert whole.json() == {
        "id": schema_id, "fromVersion": 1, "toVersion": 5,
        "changes": [
            {"op": "renamed", "target": "field", "name": "mail", "old": "email", "new": "mail",
             "breaking": {"BACKWARD": False, "FORWARD": False}},
            {"op": "added", "target": "field", "name": "age",
             "new": {"name": "age", "type": "number", "primary": False, "required": True,
                     "description": None},
             "breaking": {"BACKWARD": True, "FORWARD": False}},
            {"op": "added", "target": "relationship", "name": "owner",
             "new": {"name": "owner", "target": "group", "cardinality": "one"},
             "breaking": {"BACKWARD": False, "FORWARD": True}},
        ],
        "texts": ["Removed field: email", "Added field: age", "Added field: mail",
                  "Added relationship: owner"],  # in the order of the stored version 5
    }
    latest = client.get(url, headers=H).json()
    assert (latest["fromVersion"], latest["toVersion"]) == (4, 5)
    retyped = client.get(url, params={"from": "3", "to": "4"}, headers=H).json()
    assert retyped["changes"] == [{
        "op": "changed", "target": "field", "name": "age", "attribute": "type",
        "old": "integer", "new": "number", "breaking": {"BACKWARD": False, "FORWARD": True}}]
    assert retyped["texts"] == ["Changed field age: type integer -> number"]
    backwards = client.get(url, params={"from": "5", "to": "1"}, headers=H).json()
    assert [c["op"] for c in backwards["changes"]] == ["renamed", "removed", "removed"]
    same = client.get(url, params={"from": "2", "to": "2"}, headers=H).json()
    assert (same["changes"], same["texts"]) == ([], [])
    missing = client.get(url, params={"to": "6"}, headers=H)
    assert missing.status_code == 404 and slug(missing) == "version-not-found"
    assert client.get(url, headers=OTHER).status_code == 404
    unknown = client.get(f"{API}/schemas/sch_00000000000000000000000000/diff", headers=H)
    assert unknown.status_code == 404 and slug(unknown) == "schema-not-found"
    erase = client.delete(f"{API}/schemas/{cid()}/{schema_id}/erase", headers=H)
    assert erase.status_code == 204
    for params in ({}, {"from": "1", "to": "2"}):
        gone = client.get(url, params=params, headers=H)
        assert gone.status_code == 410 and slug(gone) == "schema-erased"


def test_reads_as_of_a_past_moment(client: Client, registry: Registry) -> None:
    before = now()
    schema_id = create(client, placed(seed_create()))
    url = f"{API}/schemas/{schema_id}"
    created = now()
    first = client.get(url, headers=H).json()
    put(client, schema_id, placed(seed_create()) | {"name": "Second"})
    updated = now()
    assert client.delete(f"{API}/schemas/{cid()}/{schema_id}", headers=H).status_code == 204
    deleted = now()

    def at(moment: str, path: str = "", **params: str) -> Any:
        return client.get(f"{url}{path}", params={"asOf": moment, **params}, headers=H)

    assert slug(at(before)) == "schema-not-found" and at(before).status_code == 404
    assert at(created).json() == first and at(created).headers["etag"] == '"1"'
    assert at(updated).json()["name"] == "Second"
    assert at(deleted).status_code == 404 and slug(at(deleted)) == "schema-deleted"
    assert at(deleted, includeDeleted="true").json()["version"] == 3
    offset = created.replace("Z", "+02:00")  # the same clock time two hours east: earlier
    assert at(offset).status_code == 404
    assert [e["version"] for e in at(updated, "/history").json()["history"]] == [2, 1]
    listed = client.get(f"{API}/schemas", params={"asOf": updated}, headers=H).json()
    assert [s["id"] for s in listed["schemas"]] == [schema_id]
    assert client.get(f"{API}/schemas", params={"asOf": before}, headers=H).json() == {
        "schemas": [], "nextCursor": None}
    for path in ("", "/history"):
        foreign = client.get(f"{url}{path}", params={"asOf": updated}, headers=OTHER)
        assert foreign.status_code == 404 and slug(foreign) == "schema-not-found"
    assert client.get(f"{API}/schemas", params={"asOf": updated}, headers=OTHER).json()[
        "schemas"] == []

    erase = client.delete(f"{API}/schemas/{cid()}/{schema_id}/erase", headers=H)
    assert erase.status_code == 204
    erased = now()
    for moment in (created, updated, deleted):
        for path in ("", "/history"):
            gone = at(moment, path)
            assert gone.status_code == 410 and slug(gone) == "schema-erased", gone.text
            assert "Second" not in gone.text and "Custom REST API" not in gone.text
    assert slug(at(erased)) == "schema-erased"
    assert [e["changes"] for e in at(erased, "/history").json()["history"]] == [["Erased"]]
    assert client.get(f"{API}/schemas", params={"asOf": updated, "includeDeleted": "true"},
                      headers=H).json()["schemas"] == []
    registry.rebuild()
    assert at(before).status_code == 404 and at(updated).status_code == 410
    bad = at("2026-13-01T00:00:00Z")
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/query/asOf"
