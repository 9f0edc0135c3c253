"""The change feed through the real Litestar app, on both backends.

The feed is the tenant's schema and connector revisions in commit order; a cursor resumes it
without gaps or duplicates, across a restart of the registry; another tenant's changes never
appear, and an erased schema's old content is gone from it (live and after a rebuild).
"""

from __future__ import annotations

import json
from typing import Any

from litestar.testing import TestClient

from api.app import create_app
from registry.service import Registry
from tests.conftest import Backend
from tests.fixtures import API, cid, headers, placed, seed_create

Client = TestClient[Any]
FEED = "/internal/v1/events"
H = headers()
AUDITOR = headers(roles=("auditor",), subject="auditor-1", email="auditor@example.com")
OTHER = headers(tenant="globex")


def _all(client: Client, auth: Any, after: str | None = None, limit: int = 200) -> list[Any]:
    """Every entry after ``after``, page by page of ``limit``."""
    entries: list[Any] = []
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"after": after} if after else {})
        page = client.get(FEED, params=params, headers=auth)
        assert page.status_code == 200, page.text
        body = page.json()
        entries += body["events"]
        if not body["events"]:
            assert body["nextCursor"] == after
            return entries
        assert body["nextCursor"] == body["events"][-1]["cursor"]
        after = body["nextCursor"]


def _create_and_change(client: Client) -> str:
    created = client.post(f"{API}/schemas", json=placed(seed_create()), headers=H)
    assert created.status_code == 201, created.text
    schema_id = created.json()["id"]
    changed = placed(seed_create()) | {"name": "Renamed"}
    changed["fields"] = [*changed["fields"], {"name": "secretCodename", "type": "string"}]
    assert client.put(f"{API}/schemas/{schema_id}", json=changed, headers=H).status_code == 200
    return str(schema_id)


def test_the_feed_is_the_tenants_revisions_in_commit_order(client: Client) -> None:
    schema_id = _create_and_change(client)
    assert client.delete(f"{API}/schemas/{cid()}/{schema_id}", headers=H).status_code == 204

    entries = _all(client, AUDITOR)
    mine = [(e["type"], e["version"], e["changes"]) for e in entries
            if e["resourceId"] == schema_id]
    assert mine == [
        ("schema.created", 1, ["Initial creation"]),
        ("schema.updated", 2, ["Renamed schema: Custom REST API -> Renamed",
                               "Added field: secretCodename"]),
        ("schema.deleted", 3, ["Deleted"]),
    ]
    connector = [e for e in entries if e["resourceId"] == cid()]
    assert connector[0]["type"] == "connector.created"
    assert {e["changedBy"] for e in entries if e["resourceId"] == schema_id} == {
        "admin@example.com"}
    # One page at a time, one entry per page: the same entries, no gap, no duplicate.
    assert _all(client, AUDITOR, limit=1) == entries
    assert [e["cursor"] for e in entries] == [e["cursor"] for e in _all(client, H)]
    positions = [e["cursor"] for e in entries]
    assert len(set(positions)) == len(positions)


def test_another_tenants_changes_never_appear(client: Client) -> None:
    _create_and_change(client)
    assert _all(client, OTHER) == []
    theirs = client.post(f"{API}/schemas", json=placed(seed_create(), "globex"), headers=OTHER)
    assert theirs.status_code == 201, theirs.text
    seen = {e["resourceId"] for e in _all(client, OTHER)}
    assert seen == {theirs.json()["id"], cid(tenant="globex")}
    assert theirs.json()["id"] not in {e["resourceId"] for e in _all(client, H)}


def test_an_erased_schema_leaves_only_its_erase(client: Client, registry: Registry) -> None:
    schema_id = _create_and_change(client)
    erase = client.delete(f"{API}/schemas/{cid()}/{schema_id}/erase", headers=H)
    assert erase.status_code == 204, erase.text

    entries = _all(client, H)
    assert [(e["type"], e["changes"]) for e in entries if e["resourceId"] == schema_id] == [
        ("schema.erased", ["Erased"])]
    assert "secretCodename" not in json.dumps(entries)
    assert "Renamed" not in json.dumps(entries)
    registry.rebuild()  # rebuild = live
    assert _all(client, H) == entries


def test_a_cursor_resumes_across_a_restart(backend: Backend, registry: Registry) -> None:
    with TestClient(create_app(backend.settings(), registry=registry)) as client:
        _create_and_change(client)
        before = _all(client, H)
    registry.close()
    reopened = Registry(backend.settings())  # the tokens and connector issued stay valid
    try:
        with TestClient(create_app(backend.settings(), registry=reopened)) as client:
            assert _all(client, H) == before
            created = client.post(f"{API}/schemas", json=placed(seed_create()) | {"key": "two"},
                                  headers=H)
            assert created.status_code == 201, created.text
            after = _all(client, H, before[-1]["cursor"])
            # The schema and its connector, saved together: in the order they were stored.
            assert [(e["resourceId"], e["version"]) for e in after] == [
                (created.json()["id"], 1), (cid(), 3)]
            assert _all(client, H) == before + after
    finally:
        reopened.close()


def test_only_auditors_and_admins_read_it_and_bad_cursors_are_422(client: Client) -> None:
    editor = headers(roles=("editor",), subject="editor-1")
    assert client.get(FEED, headers=editor).status_code == 403
    for bad in ("nope", "ZXZlbnRzfGFiYw", "YXVkaXR8MQ"):  # garbage, events|abc, audit|1
        answer = client.get(FEED, params={"after": bad}, headers=H)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        stream = client.get(f"{FEED}/stream", headers={**H, "Last-Event-ID": bad})
        assert stream.status_code == 422, stream.text
    assert client.get(FEED, params={"limit": 0}, headers=H).status_code == 422
