"""The compatibility dry run through the real Litestar app, on both backends."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from registry.service import Registry
from tests.fixtures import API, connector_body, headers, placed, seed_create

Client = TestClient[Any]
H = headers()


def create(client: Client) -> str:
    response = client.post(f"{API}/schemas", json=placed(seed_create()), headers=H)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def with_field(index: int, **changes: Any) -> dict[str, Any]:
    body = placed(seed_create())
    body["fields"][index] |= changes
    return body


def test_a_dry_run_reports_violations_and_changes_and_records_nothing(client: Client) -> None:
    schema_id = create(client)
    url = f"{API}/schemas/{schema_id}"
    response = client.post(f"{url}/compatibility", json=with_field(4, type="integer"), headers=H)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "compatible": False,
        "mode": "BACKWARD",
        "violations": [{
            "pointer": "/fields/4/type",
            "rule": "BACKWARD",
            "message": "field 'active' is written as boolean and read as integer; "
            "records written as boolean cannot be read (version 1)",
        }],
        "changes": ["Changed field active: type boolean -> integer"],
    }
    assert client.get(url, headers=H).json()["version"] == 1
    assert len(client.get(f"{url}/history", headers=H).json()["history"]) == 1


def test_the_mode_parameter_chooses_the_rules(client: Client) -> None:
    schema_id = create(client)
    url = f"{API}/schemas/{schema_id}/compatibility"
    optional = with_field(1, required=False)
    required = with_field(1, required=True)
    answers = {
        mode: (client.post(f"{url}?mode={mode}", json=required, headers=H).json()["violations"],
               client.post(f"{url}?mode={mode}", json=optional, headers=H).json()["compatible"])
        for mode in ("NONE", "BACKWARD", "FORWARD", "FULL")
    }
    assert {mode: ([v["pointer"] for v in found], ok) for mode, (found, ok) in answers.items()} == {
        "NONE": ([], True),
        "BACKWARD": (["/fields/1/required"], True),
        "FORWARD": ([], True),
        "FULL": (["/fields/1/required"], True),
    }
    bad = client.post(f"{url}?mode=SIDEWAYS", json=optional, headers=H)
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/query/mode"


def test_transitive_modes_check_every_live_version(client: Client) -> None:
    schema_id = create(client)
    url = f"{API}/schemas/{schema_id}"
    without_role = placed(seed_create())
    del without_role["fields"][3]
    assert client.put(url, json=without_role, headers=H).status_code == 200
    role_as_integer = with_field(3, type="integer")
    plain = client.post(f"{url}/compatibility", json=role_as_integer, headers=H).json()
    assert plain["compatible"] is True
    assert plain["changes"] == ["Added field: role"]
    transitive = client.post(f"{url}/compatibility?mode=BACKWARD_TRANSITIVE",
                             json=role_as_integer, headers=H).json()
    assert [(v["pointer"], v["message"][-11:]) for v in transitive["violations"]] == [
        ("/fields/3/type", "(version 1)")
    ]


def test_bad_documents_are_problems_and_readers_may_not_dry_run(client: Client) -> None:
    schema_id = create(client)
    url = f"{API}/schemas/{schema_id}/compatibility"
    invalid = client.post(url, json={"name": "x"}, headers=H)
    assert invalid.status_code == 422 and invalid.json()["errors"]
    moved = client.post(url, json=placed(seed_create()) | {"key": "other"}, headers=H)
    assert moved.status_code == 422 and moved.json()["errors"][0]["pointer"] == "/key"
    reader = client.post(url, json=placed(seed_create()), headers=headers(roles=("reader",)))
    assert reader.status_code == 403


CONNECTORS = "/internal/v1/connectors"


def back_to(document: dict[str, Any]) -> dict[str, Any]:
    """A schema document as a replacement body of itself (read-only keys are ignored)."""
    return {k: v for k, v in document.items() if k not in ("id", "uuid")}


def schema_under(client: Client, connector_id: str, **extra: Any) -> str:
    body = seed_create() | {"connectorId": connector_id, **extra}
    response = client.post(f"{API}/schemas", json=body, headers=H)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_a_breaking_put_is_409_and_writes_nothing(client: Client) -> None:
    schema_id = create(client)
    url = f"{API}/schemas/{schema_id}"
    before = client.get(url, headers=H)
    assert before.json()["compatibility"] is None
    history = client.get(f"{url}/history", headers=H).json()
    breaking = with_field(4, type="integer")
    breaking["fields"].append({"name": "tier", "type": "string", "required": True})
    refused = client.put(url, json=breaking, headers=H)
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["type"].endswith("incompatible") and problem["mode"] == "BACKWARD"
    assert [(v["pointer"], v["rule"]) for v in problem["violations"]] == [
        ("/fields/5", "BACKWARD"), ("/fields/4/type", "BACKWARD"),
    ]
    after = client.get(url, headers=H)
    assert after.json() == before.json() and after.headers["etag"] == before.headers["etag"]
    assert client.get(f"{url}/history", headers=H).json() == history


def test_the_same_put_succeeds_when_the_schema_is_in_none(client: Client) -> None:
    schema_id = create(client)
    url = f"{API}/schemas/{schema_id}"
    breaking = with_field(4, type="integer")
    assert client.put(url, json=breaking | {"compatibility": "NONE"}, headers=H).json()[
        "version"] == 2
    document = client.get(url, headers=H).json()
    assert document["compatibility"] == "NONE"
    assert client.post(f"{url}/compatibility", json=back_to(document),
                       headers=H).json()["mode"] == "NONE"
    assert document["fields"][4]["type"] == "integer"
    assert client.get(f"{url}/history", headers=H).json()["history"][0]["changes"] == [
        "Changed field active: type boolean -> integer",
        "Changed compatibility: inherited -> NONE",
    ]
    # Absent keeps the mode, null inherits again (and is checked under the inherited mode).
    back = with_field(4, type="boolean")
    assert client.put(url, json=back, headers=H).status_code == 200
    assert client.get(url, headers=H).json()["compatibility"] == "NONE"
    assert client.put(url, json=with_field(4, type="integer") | {"compatibility": None},
                      headers=H).status_code == 409
    assert client.put(url, json=back | {"compatibility": None}, headers=H).status_code == 200
    texts = client.get(f"{url}/history", headers=H).json()["history"][0]["changes"]
    assert texts == ["Changed compatibility: NONE -> inherited"]


def test_a_schema_inherits_its_connectors_mode(client: Client) -> None:
    created = client.post(CONNECTORS, json=connector_body("Strict", compatibility="FULL"),
                          headers=H)
    assert created.status_code == 201, created.text
    connector_id = created.json()["id"]
    assert created.json()["compatibility"] == "FULL"
    schema_id = schema_under(client, connector_id)
    url = f"{API}/schemas/{schema_id}"
    assert client.get(url, headers=H).json()["compatibility"] is None
    linked = seed_create() | {"connectorId": connector_id, "relationships": [
        {"name": "manager", "target": "account", "cardinality": "one"}]}
    dry = client.post(f"{url}/compatibility", json=linked, headers=H).json()
    refused = client.put(url, json=linked, headers=H)
    assert refused.status_code == 409, refused.text
    assert refused.json()["mode"] == "FULL"
    assert [(v["pointer"], v["rule"]) for v in refused.json()["violations"]] == [
        ("/relationships/0", "FORWARD")]
    assert dry["mode"] == "FULL" and dry["violations"] == refused.json()["violations"]
    patched = client.patch(f"{CONNECTORS}/{connector_id}", json={"compatibility": "BACKWARD"},
                           headers=H)
    assert patched.status_code == 200, patched.text
    # The schema's document is a function of its own events: its version and ETag stand for
    # it whatever its connector's mode; the mode a PUT is checked against is the dry run's.
    assert client.get(url, headers=H).json()["version"] == 1
    assert client.post(f"{url}/compatibility", json=linked, headers=H).json()["mode"] == \
        "BACKWARD"
    assert client.put(url, json=linked, headers=H).status_code == 200
    history = client.get(f"{CONNECTORS}/{connector_id}/history", headers=H).json()["history"]
    assert "Changed compatibility: FULL -> BACKWARD" in history[0]["changes"]


def test_a_mode_given_on_create_is_in_the_first_revision(client: Client) -> None:
    body = placed(seed_create()) | {"compatibility": "FORWARD"}
    created = client.post(f"{API}/schemas", json=body, headers=H)
    assert created.status_code == 201, created.text
    url = f"{API}/schemas/{created.json()['id']}"
    assert created.json()["version"] == 1
    assert client.get(url, headers=H).json()["compatibility"] == "FORWARD"
    assert client.get(f"{url}/versions/1", headers=H).json()["compatibility"] == "FORWARD"
    assert client.get(f"{url}/history", headers=H).json()["history"][0]["changes"] == [
        "Initial creation"]
    again = client.post(f"{API}/schemas", json=body, headers=H)
    assert again.status_code == 200 and again.json()["status"] == "unchanged"
    plain = client.post(f"{API}/schemas", json=placed(seed_create()), headers=H)
    assert plain.status_code == 200 and plain.json()["status"] == "unchanged"
    other = client.post(f"{API}/schemas", json=body | {"compatibility": "FULL"}, headers=H)
    assert other.status_code == 409, other.text
    assert other.json()["type"].endswith("schema-exists")


def test_a_bad_mode_is_422_at_compatibility(client: Client) -> None:
    bad = client.post(f"{API}/schemas", json=placed(seed_create()) | {"compatibility": "SIDE"},
                      headers=H)
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/compatibility"
    schema_id = create(client)
    url = f"{API}/schemas/{schema_id}"
    put = client.put(url, json=placed(seed_create()) | {"compatibility": 3}, headers=H)
    assert put.status_code == 422 and put.json()["errors"][0]["pointer"] == "/compatibility"
    connector = client.post(CONNECTORS, json=connector_body("Odd", compatibility=None),
                            headers=H)
    assert connector.status_code == 422
    assert connector.json()["errors"][0]["pointer"] == "/compatibility"


def test_a_rebuild_gives_the_same_documents(client: Client, registry: Registry) -> None:
    schema_id = create(client)
    url = f"{API}/schemas/{schema_id}"
    assert client.put(url, json=with_field(4, type="integer") | {"compatibility": "NONE"},
                      headers=H).status_code == 200
    connector_id = placed(seed_create())["connectorId"]
    assert client.patch(f"{CONNECTORS}/{connector_id}", json={"compatibility": "FULL"},
                        headers=H).status_code == 200
    paths = [url, f"{url}/history", f"{url}/versions/1", f"{url}/versions/2",
             f"{API}/schemas", f"{CONNECTORS}/{connector_id}",
             f"{CONNECTORS}/{connector_id}/history"]
    live = [client.get(path, headers=H).json() for path in paths]
    registry.rebuild()
    assert [client.get(path, headers=H).json() for path in paths] == live


def test_a_dry_run_lists_the_mode_change_the_put_would_record(client: Client) -> None:
    schema_id = create(client)
    url = f"{API}/schemas/{schema_id}"
    body = with_field(4, type="integer") | {"compatibility": "NONE"}
    dry = client.post(f"{url}/compatibility", json=body, headers=H).json()
    assert dry["compatible"] is True and dry["mode"] == "NONE"
    assert client.put(url, json=body, headers=H).status_code == 200
    recorded = client.get(f"{url}/history", headers=H).json()["history"][0]["changes"]
    assert dry["changes"] == recorded == [
        "Changed field active: type boolean -> integer", "Changed compatibility: inherited -> NONE"]
