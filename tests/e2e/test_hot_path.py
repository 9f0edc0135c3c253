"""The hot path of ``GET …/schemas/{id}`` answers exactly what the route answers, and only
what the route has already answered: everything else reaches Litestar.

Both backends, the real app. The layer's view of the app behind it is wrapped so each test
sees which requests the app itself handled.
"""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient
from litestar.types import ASGIApp, Receive, Scope, Send

from api.hot_path import SchemaReads
from tests.fixtures import API, cid, headers, jwt_only, placed, seed_create

Client = TestClient[Any]


class Counted:
    """The app behind the hot path, counting the requests it handles."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        await self.app(scope, receive, send)


@pytest.fixture
def behind(client: Client) -> Counted:
    reads = client.app.asgi_handler.app  # type: ignore[attr-defined]
    assert isinstance(reads, SchemaReads)
    counted = Counted(reads.inner)
    reads.inner = counted
    return counted


@pytest.fixture
def auth(client: Client) -> dict[str, str]:
    """Both credentials, fixed for the test (a fresh JWT is a caller not yet checked)."""
    return dict(headers())


def answer(response: Any) -> tuple[int, bytes, list[tuple[str, str]]]:
    kept = [(k, v) for k, v in response.headers.multi_items() if k != "x-request-id"]
    return response.status_code, response.content, kept


def created(client: Client, auth: dict[str, str]) -> str:
    response = client.post(f"{API}/schemas", json=placed(seed_create()), headers=auth)
    assert response.status_code == 201, response.text
    return f"{API}/schemas/{response.json()['id']}"


def test_a_repeated_read_is_the_routes_answer_without_the_route(
    client: Client, behind: Counted, auth: dict[str, str]
) -> None:
    url = created(client, auth)
    first = client.get(url, headers=auth)
    assert (first.status_code, behind.calls) == (200, 2)  # the create, then the first read
    again = [client.get(url, headers=auth) for _ in range(3)]
    assert behind.calls == 2
    assert all(answer(r) == answer(first) for r in again)
    assert all(r.headers["x-request-id"] != first.headers["x-request-id"] for r in again)

    # If-None-Match: the same 304 as the route's own (which a query string forces).
    tag = {**auth, "If-None-Match": first.headers["etag"]}
    cached = client.get(url, headers=tag)
    assert behind.calls == 2
    routed = client.get(f"{url}?includeDeleted=false", headers=tag)
    assert behind.calls == 3
    assert answer(cached) == answer(routed) and cached.status_code == 304
    other = {**auth, "If-None-Match": '"999"'}
    assert answer(client.get(url, headers=other)) == answer(first)
    assert behind.calls == 3


def test_changes_are_never_answered_from_memory(
    client: Client, behind: Counted, auth: dict[str, str]
) -> None:
    url = created(client, auth)
    assert client.get(url, headers=auth).json()["name"] == "Custom REST API"
    renamed = client.put(url, json=placed(seed_create()) | {"name": "Renamed"}, headers=auth)
    assert renamed.status_code == 200, renamed.text
    calls = behind.calls
    now = client.get(url, headers=auth)
    assert (now.json()["name"], now.headers["etag"], behind.calls) == ("Renamed", '"2"',
                                                                       calls + 1)
    assert client.get(url, headers=auth).json()["name"] == "Renamed"
    assert behind.calls == calls + 1

    owned = f"{API}/schemas/{cid()}/{url.rsplit('/', 1)[1]}"
    assert client.delete(owned, headers=auth).status_code == 204
    deleted = client.get(url, headers=auth)
    assert deleted.status_code == 404 and behind.calls == calls + 3
    assert client.post(f"{owned}/restore", headers=auth).status_code == 200
    assert client.get(url, headers=auth).status_code == 200
    erased = client.delete(f"{owned}/erase", headers=auth)
    assert erased.status_code == 204, erased.text
    gone = client.get(url, headers=auth)
    assert gone.status_code == 410 and "Custom REST API" not in gone.text
    assert client.get(url, headers=auth).status_code == 410


def test_callers_it_does_not_know_reach_the_route(
    client: Client, behind: Counted, auth: dict[str, str]
) -> None:
    url = created(client, auth)
    assert client.get(url, headers=auth).status_code == 200
    calls = behind.calls

    other_tenant = client.get(url, headers=headers(tenant="globex"))
    unknown = client.get(f"{API}/schemas/sch_00000000000000000000000000", headers=auth)
    assert other_tenant.status_code == unknown.status_code == 404
    assert other_tenant.json()["type"] == unknown.json()["type"]
    no_token = client.get(url, headers=jwt_only())
    assert no_token.status_code == 401
    twice = [*auth.items(), ("X-API-Token", "other")]  # a repeated header: the route decides
    repeated = client.get(url, headers=twice)
    routed = client.get(f"{url}?includeDeleted=false", headers=twice)
    assert repeated.status_code == routed.status_code
    assert repeated.content.split(b'"requestId"')[0] == routed.content.split(b'"requestId"')[0]
    assert client.get(f"{url}/", headers=auth).status_code == 200  # Litestar's own routing
    assert behind.calls == calls + 6


def test_a_revoked_token_is_refused_at_once(
    client: Client, behind: Counted, auth: dict[str, str]
) -> None:
    url = created(client, auth)
    issued = client.post("/internal/v1/api-tokens", json={"name": "collector"}, headers=auth)
    assert issued.status_code == 201, issued.text
    caller = {"Authorization": headers(roles=("collector",))["Authorization"],
              "X-API-Token": issued.json()["token"]}
    assert client.get(url, headers=caller).status_code == 200
    calls = behind.calls
    assert client.get(url, headers=caller).status_code == 200
    assert behind.calls == calls  # remembered: answered from memory
    revoked = client.delete(f"/internal/v1/api-tokens/{issued.json()['id']}", headers=auth)
    assert revoked.status_code == 204
    assert client.get(url, headers=caller).status_code == 401
