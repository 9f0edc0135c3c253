"""What each server process keeps in memory never outlives the truth in another process.

Two real ``registry serve`` processes share one database. Changes go through one; the other,
which has just served (and cached) the old state, must show the new one:

- schemas at once: every read checks the current version in the read model;
- a revoked API token within the documented bound: the follow interval (0.5 s), here given
  a generous margin for a loaded machine, and polled with a deadline.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from registry.auth import issue_token
from registry.service import Registry
from tests.conftest import Backend
from tests.fixtures import API, SECRET, Credentials, cid, placed, seed_create
from tests.support.servers import environment, serving

REVOCATION_BOUND = 0.5  # Settings.follow_interval, documented in docs/security.md
MARGIN = 10.0  # scheduling slack on a busy 2-core machine


def _headers(api_token: str) -> dict[str, str]:
    jwt = issue_token(SECRET, tenant="acme", subject="admin-1", roles=["admin"])
    return {"Authorization": f"Bearer {jwt}", "X-API-Token": api_token}


@pytest.fixture
def two_servers(backend: Backend, registry: Registry, tmp_path: Path) -> Iterator[list[str]]:
    env = environment(backend.data_dir, SECRET, REGISTRY_DATABASE_URL=backend.url)
    with serving(env, logs=tmp_path) as (first, _), serving(env, logs=tmp_path) as (second, _):
        yield [first, second]


def test_updated_and_erased_schemas_are_never_served_stale(
    two_servers: list[str], registry: Registry
) -> None:
    writer, reader = two_servers
    auth = _headers(Credentials.api_token("acme", "cache-test"))
    created = httpx.post(f"{writer}{API}/schemas", json=placed(seed_create()), headers=auth)
    assert created.status_code == 201, created.text
    url = f"{API}/schemas/{created.json()['id']}"
    assert httpx.get(f"{reader}{url}", headers=auth).json()["name"] == "Custom REST API"

    renamed = httpx.put(f"{writer}{url}", json=placed(seed_create()) | {"name": "Renamed"},
                        headers=auth)
    assert renamed.status_code == 200, renamed.text
    again = httpx.get(f"{reader}{url}", headers=auth)  # no wait: the next read is current
    assert (again.json()["name"], again.headers["etag"]) == ("Renamed", '"2"')

    erase = httpx.delete(f"{writer}{API}/schemas/{cid()}/{created.json()['id']}/erase",
                         headers=auth)
    assert erase.status_code == 204, erase.text
    gone = httpx.get(f"{reader}{url}", headers=auth)
    assert gone.status_code == 410 and "Custom REST API" not in gone.text


def test_a_revoked_token_is_refused_by_the_other_process_within_the_bound(
    two_servers: list[str], registry: Registry
) -> None:
    writer, reader = two_servers
    admin = _headers(Credentials.api_token("acme", "cache-admin"))
    issued = httpx.post(f"{writer}/internal/v1/api-tokens", json={"name": "short-lived"},
                        headers=admin).json()
    victim = _headers(issued["token"])
    assert httpx.get(f"{reader}{API}/schemas", headers=victim).status_code == 200  # remembered

    revoked = httpx.delete(f"{writer}/internal/v1/api-tokens/{issued['id']}", headers=admin)
    assert revoked.status_code == 204
    started = time.monotonic()
    assert httpx.get(f"{writer}{API}/schemas", headers=victim).status_code == 401  # at once
    while httpx.get(f"{reader}{API}/schemas", headers=victim).status_code != 401:
        assert time.monotonic() - started < REVOCATION_BOUND + MARGIN, "still accepted"
        time.sleep(0.05)  # polling interval; the loop's condition is the synchronisation
