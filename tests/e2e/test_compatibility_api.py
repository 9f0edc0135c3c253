"""The compatibility dry run through the real Litestar app, on both backends."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from tests.fixtures import API, headers, placed, seed_create

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
