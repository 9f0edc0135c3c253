"""The examples of the schemas API document, verbatim."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from tests.fixtures import API, cid, headers, placed, seed_create

Client = TestClient[Any]


def test_create_answers_the_seed_body(client: Client) -> None:
    response = client.post(f"{API}/schemas", json=placed(seed_create()), headers=headers())
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "name", "status", "version"}
    assert body["name"] == "Custom REST API"
    assert body["status"] == "created"
    assert body["version"] == 1
    assert body["id"].startswith("sch_")


def test_adding_department_by_put_shows_in_history(client: Client) -> None:
    created = client.post(f"{API}/schemas", json=placed(seed_create()), headers=headers()).json()
    document = placed(seed_create())
    document["fields"].append({"name": "department", "type": "string"})
    update = client.put(f"{API}/schemas/{created['id']}", json=document, headers=headers())
    assert update.status_code == 200
    assert update.json()["version"] == 2

    response = client.get(f"{API}/schemas/{created['id']}/history", headers=headers())
    assert response.status_code == 200
    history = response.json()["history"]
    assert [{k: e[k] for k in ("version", "changedBy", "changes")} for e in history] == [
        {"version": 2, "changedBy": "admin@example.com", "changes": ["Added field: department"]},
        {"version": 1, "changedBy": "admin@example.com", "changes": ["Initial creation"]},
    ]
    assert all(set(e) == {"version", "changedAt", "changedBy", "changes"} for e in history)
    assert all(e["changedAt"].endswith("Z") for e in history)
    assert history[0]["changedAt"] >= history[1]["changedAt"]


def test_erase_answers_204_with_no_content(client: Client) -> None:
    created = client.post(f"{API}/schemas", json=placed(seed_create()), headers=headers()).json()
    response = client.delete(
        f"{API}/schemas/{cid()}/{created['id']}/erase", headers=headers()
    )
    assert response.status_code == 204
    assert response.content == b""
