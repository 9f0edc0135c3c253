"""The records routes through the real Litestar app, on both backends: records stored by a
real sync (the script in the sandbox, its pages from a real local server) or by the app's own
record store, then paged with a cursor, filtered, read by key, hidden while their schema is
deleted and gone once it is erased."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from litestar.testing import TestClient

import api.records
from domain.ids import decode_schema_id
from registry.records import primary_key
from registry.service import Registry
from registry.sync import SyncWorker
from tests.fixtures import API, AS_ADMIN, headers, placed, seed_create
from tests.integration.test_connectors import OWNER
from tests.integration.test_sync import LOCAL, PAGES, pages, universal, user
from tests.support.servers import local_server

Client = TestClient[Any]
H = headers(roles=("collector",), subject="collector-1")
TYPED: dict[str, Any] = {
    "name": "Typed things",
    "connectorId": "records",
    "entityType": "thing",
    "key": "things",
    "fields": [
        {"name": "region", "type": "string", "primary": True},
        {"name": "n", "type": "integer", "primary": True},
        {"name": "score", "type": "number"},
        {"name": "on", "type": "boolean"},
        {"name": "tags", "type": "string[]"},
        {"name": "extra", "type": "json"},
        {"name": "seen", "type": "datetime"},
        {"name": "site", "type": "url"},
    ],
}
PRIMARY = ["region", "n"]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with local_server() as httpd:
        httpd.expect_request("/users").respond_with_handler(pages)
        yield httpd.url_for("").rstrip("/")


def records_of(client: Client, schema: str, **query: Any) -> tuple[int, Any]:
    response = client.get(f"{API}/schemas/{schema}/records", params=query, headers=H)
    return response.status_code, response.json()


def every_page(client: Client, schema: str, **query: Any) -> tuple[list[dict[str, Any]], int]:
    """All records of the list, page by page; and how many pages it took."""
    found: list[dict[str, Any]] = []
    cursor, count = None, 0
    while True:
        status, body = records_of(client, schema, **query,
                                  **({"cursor": cursor} if cursor else {}))
        assert status == 200, body
        found += body["records"]
        count += 1
        cursor = body["nextCursor"]
        if cursor is None:
            return found, count


def one(client: Client, schema: str, key: str) -> Any:
    return client.get(f"{API}/schemas/{schema}/records/{quote(key, safe='')}", headers=H)


def test_records_of_a_real_sync_are_paged_filtered_read_hidden_and_erased(
    client: Client, registry: Registry, server: str,
) -> None:
    PAGES.clear()
    people = {n: user(n, role="admin" if n % 3 == 0 else "member", active=n != 6)
              for n in range(1, 8)}
    PAGES.update({1: [people[n] for n in range(1, 5)], 2: [people[n] for n in range(5, 8)]})
    connector = universal(registry, server)
    schema = registry.app.create_schema(OWNER, seed_create() | {
        "connectorId": connector.connector_id})
    registry.app.request_sync(OWNER, connector.id)
    done = SyncWorker(registry.app, "worker-records", outbound=LOCAL).run_once()
    assert done is not None and done.status == "succeeded", done
    sch = schema.schema_id

    listed, count = every_page(client, sch, limit=3)
    assert count == 3
    assert sorted(r["record"]["userId"] for r in listed) == [f"u{n}" for n in range(1, 8)]
    assert all(r["primaryKey"] == f'"{r["record"]["userId"]}"' for r in listed)
    assert {r["record"]["userId"]: r["record"] for r in listed}["u3"] == people[3]
    by_uuid, _ = every_page(client, str(schema.id), limit=200)  # the UUID form of the id
    assert sorted(map(str, by_uuid)) == sorted(map(str, listed))

    admins, _ = every_page(client, sch, where="role:admin", limit=1)
    assert sorted(r["record"]["userId"] for r in admins) == ["u3", "u6"]
    inactive, _ = every_page(client, sch, where=["active:false", "role:admin"])
    assert [r["record"]["userId"] for r in inactive] == ["u6"]
    assert records_of(client, sch, where="role:nobody") == (200, {"records": [],
                                                                  "nextCursor": None})

    found = one(client, sch, '"u5"')
    assert found.status_code == 200
    assert found.json() == {"primaryKey": '"u5"', "record": people[5]}
    missing = one(client, sch, '"u99"')
    assert missing.status_code == 404 and missing.json()["type"].endswith("/record-not-found")
    assert "u99" not in missing.text  # a key is a value: never repeated back
    assert one(client, sch, "u5").status_code == 404  # not JSON: no record has it

    registry.app.delete_schema(AS_ADMIN, connector.connector_id, schema.id)
    for response in (client.get(f"{API}/schemas/{sch}/records", headers=H),
                     one(client, sch, '"u5"')):
        assert response.status_code == 404, response.text
        assert response.json()["type"].endswith("/schema-deleted")
    registry.app.restore_schema(AS_ADMIN, connector.connector_id, schema.id)
    assert len(every_page(client, sch, limit=200)[0]) == 7
    assert one(client, sch, '"u5"').status_code == 200

    registry.app.erase_schema(AS_ADMIN, connector.connector_id, schema.id)
    for response in (client.get(f"{API}/schemas/{sch}/records", headers=H),
                     one(client, sch, '"u5"')):
        assert response.status_code == 410, response.text
        assert response.json()["type"].endswith("/schema-erased")


def thing(n: int, **changes: Any) -> dict[str, Any]:
    return {"region": "eu" if n % 2 else "us", "n": n, "score": n / 2, "on": n % 3 == 0,
            "tags": [f"t{n % 2}"], "extra": {"n": n}, "seen": f"2026-01-0{n}T00:00:00Z",
            "site": f"https://example.com/{n}", **changes}


def typed_schema(registry: Registry, *things: dict[str, Any]) -> str:
    state = registry.app.create_schema(AS_ADMIN, placed(TYPED))
    registry.records.upsert(state.id, uuid.uuid4(),
                            [(primary_key(t, PRIMARY), t) for t in things])
    return state.schema_id


def ids(records: list[dict[str, Any]]) -> list[int]:
    return sorted(r["record"]["n"] for r in records)


def test_filters_are_typed_by_the_fields(client: Client, registry: Registry) -> None:
    sch = typed_schema(registry, *(thing(n) for n in range(1, 7)),
                       thing(7, on=None, extra=True, tags=[]))
    cases = {
        "n:4": [4], "n:04": [4],  # JSON: 04 is not a number
        "score:1.5": [3], "score:2": [4], "on:true": [3, 6], "on:false": [1, 2, 4, 5],
        "region:eu": [1, 3, 5, 7], 'tags:["t1"]': [1, 3, 5], "tags:[]": [7],
        'extra:{"n":2}': [2], "extra:true": [7], "extra:1": [],  # true is not 1
        "seen:2026-01-02T00:00:00Z": [2], "site:https://example.com/5": [5],
    }
    for term, expected in cases.items():
        status, body = records_of(client, sch, where=term, limit=200)
        if term == "n:04":
            assert status == 422 and body["errors"][0]["pointer"] == "/query/where", body
            continue
        assert status == 200, (term, body)
        assert ids(body["records"]) == expected, term
    both, _ = every_page(client, sch, where=["region:us", "on:true"])
    assert ids(both) == [6]

    bad = {
        "nope:1": "the schema has no field 'nope'",
        "n": "'n' is not <field>:<value>",
        "n:four": "'n' is a integer field; the value is not one",
        "n:1.5": "'n' is a integer field; the value is not one",
        "on:yes": "'on' is a boolean field; the value is not one",
        "on:1": "'on' is a boolean field; the value is not one",
        "score:NaN": "'score' is a number field; the value is not one",
        "tags:t1": "'tags' is a string[] field; the value is not one",
        "seen:yesterday": "'seen' is a datetime field; the value is not one",
        "n:null": "'n' is a integer field; the value is not one",
    }
    for term, message in bad.items():
        status, body = records_of(client, sch, where=term)
        assert status == 422, (term, body)
        assert body["type"].endswith("/invalid-parameter")
        assert body["errors"] == [{"pointer": "/query/where", "message": message}], term
    status, body = records_of(client, sch, where=["n:1", "n:2", "x:1"])
    assert status == 422 and [e["message"] for e in body["errors"]] == [
        "field 'n' is filtered twice", "the schema has no field 'x'"]
    status, body = records_of(client, sch, where=[f"n:{n}" for n in range(21)])
    assert status == 422 and body["errors"][0]["pointer"] == "/query/where", body


def test_composite_and_url_keys_read_back_as_the_list_writes_them(
    client: Client, registry: Registry,
) -> None:
    slashed = thing(8, region="https://a.example//b/")
    sch = typed_schema(registry, thing(1), slashed)
    listed, _ = every_page(client, sch)
    keys = {r["record"]["n"]: r["primaryKey"] for r in listed}
    assert keys == {1: '["eu",1]', 8: '["https://a.example//b/",8]'}
    for n, key in keys.items():
        response = one(client, sch, key)
        assert response.status_code == 200, response.text
        assert response.json()["record"]["n"] == n and response.json()["primaryKey"] == key
    spaced = one(client, sch, '[ "eu" , 1 ]')  # any JSON spelling of the key
    assert spaced.status_code == 200 and spaced.json()["primaryKey"] == '["eu",1]'
    unescaped = client.get(f"{API}/schemas/{sch}/records/" + quote(keys[8], safe="/"),
                           headers=H)
    assert unescaped.status_code == 200 and unescaped.json()["record"] == slashed
    not_utf8 = client.get(f"{API}/schemas/{sch}/records/%22%ff%22", headers=H)
    assert not_utf8.status_code == 404 and not_utf8.json()["type"].endswith("/record-not-found")
    for absent in ('["eu",2]', '["eu"]', "1", "%ff", "[1,"):
        response = one(client, sch, absent)
        assert response.status_code == 404, (absent, response.text)
        assert response.json()["type"].endswith("/record-not-found")


def test_cursors_belong_to_their_list_and_a_scan_is_bounded(
    client: Client, registry: Registry, monkeypatch: pytest.MonkeyPatch,
) -> None:
    things = [thing(n) for n in range(1, 10)]
    sch = typed_schema(registry, *things)
    other = registry.app.create_schema(AS_ADMIN, placed(TYPED) | {"key": "others"}).schema_id
    status, body = records_of(client, sch, limit=2)
    assert status == 200 and body["nextCursor"]
    cursor = body["nextCursor"]
    for wrong in (cursor + "x", "bm90LWEtY3Vyc29y", "", cursor.swapcase()):
        status, problem = records_of(client, sch, cursor=wrong)
        assert status == 422 and problem["errors"][0]["pointer"] == "/query/cursor", wrong
    status, problem = records_of(client, other, cursor=cursor)  # another schema's cursor
    assert status == 422 and problem["errors"][0]["pointer"] == "/query/cursor"
    for limit in (0, 201, "x"):
        status, problem = records_of(client, sch, limit=limit)
        assert status == 422 and problem["errors"][0]["pointer"] == "/query/limit"

    monkeypatch.setattr(api.records, "MAX_SCAN", 4)  # one request opens at most 4 rows
    found, count = every_page(client, sch, where="n:9", limit=200)
    assert ids(found) == [9] and count == 3  # 9 rows: 4 + 4 + 1
    status, body = records_of(client, sch, limit=200)
    assert len(body["records"]) == 4 and body["nextCursor"] is not None


def test_unknown_schemas_answer_404_and_readers_of_every_role_read(
    client: Client, registry: Registry,
) -> None:
    sch = typed_schema(registry, thing(1))
    uuid_form = str(decode_schema_id(sch))
    for schema in ("sch_" + "7" * 26, "nonsense", str(uuid.uuid4())):
        for path in ("records", "records/1"):
            response = client.get(f"{API}/schemas/{schema}/{path}", headers=H)
            assert response.status_code == 404, response.text
            assert response.json()["type"].endswith("/schema-not-found")
    for role in ("collector", "auditor", "editor", "admin"):
        response = client.get(f"{API}/schemas/{uuid_form}/records/" + quote('["eu",1]'),
                              headers=headers(roles=(role,)))
        assert response.status_code == 200, (role, response.text)
