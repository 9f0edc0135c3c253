"""The ``registry`` command: help, tokens, rebuild, and a real server walked over HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from registry.auth import ROLES, TokenVerifier
from registry.service import Registry
from tests.conftest import Backend
from tests.fixtures import API, AS_ADMIN, SECRET, cid, placed, seed_create

REGISTRY = [sys.executable, "-m", "registry.cli"]


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(REGISTRY + args, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def environment(backend: Backend) -> dict[str, str]:
    return os.environ | {
        "REGISTRY_DATABASE_URL": backend.url,
        "REGISTRY_DATA_DIR": str(backend.data_dir),
        "REGISTRY_JWT_SECRET": SECRET,
    }


def test_help_lists_the_commands() -> None:
    result = run(["--help"], dict(os.environ))
    assert result.returncode == 0
    for command in ("serve", "token", "projections"):
        assert command in result.stdout


def test_token_prints_a_verifiable_token(tmp_path: Path) -> None:
    env = os.environ | {"REGISTRY_DATA_DIR": str(tmp_path)}
    env.pop("REGISTRY_JWT_SECRET", None)
    result = run(["token", "--tenant", "acme", "--subject", "alice", "--email", "a@example.com",
                  "--role", "admin", "--role", "auditor"], env)
    assert result.returncode == 0, result.stderr
    secret = (tmp_path / "jwt-secret").read_text().strip()
    assert oct((tmp_path / "jwt-secret").stat().st_mode & 0o777) == "0o600"
    principal = TokenVerifier(secret).verify(result.stdout.strip())
    assert (principal.tenant, principal.subject, principal.email) == ("acme", "alice",
                                                                      "a@example.com")
    assert principal.roles == ("admin", "auditor")


def test_token_takes_several_roles_after_one_flag(tmp_path: Path) -> None:
    env = os.environ | {"REGISTRY_DATA_DIR": str(tmp_path), "REGISTRY_JWT_SECRET": SECRET}
    result = run(["token", "--tenant", "acme", "--subject", "bob",
                  "--role", "auditor", "editor", "--role", "collector"], env)
    assert result.returncode == 0, result.stderr
    principal = TokenVerifier(SECRET).verify(result.stdout.strip())
    assert principal.roles == ("auditor", "editor", "collector")


@pytest.mark.parametrize(("args", "expected"), [
    (["--role", "admin", "superuser"], "unknown role 'superuser': use " + ", ".join(ROLES)),
    (["--ttl", "0"], "--ttl 0: a token must live at least 1 second"),
    (["--ttl", "-60"], "--ttl -60: a token must live at least 1 second"),
])
def test_token_refuses_unknown_roles_and_a_ttl_below_one_second(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    env = os.environ | {"REGISTRY_DATA_DIR": str(tmp_path), "REGISTRY_JWT_SECRET": SECRET}
    result = run(["token", "--tenant", "acme", "--subject", "bob", *args], env)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"registry: {expected}"]
    assert result.stdout == ""


def test_projections_rebuild(backend: Backend, registry: Registry) -> None:
    state = registry.app.create_schema(AS_ADMIN, placed(seed_create()))
    registry.app.erase_schema(AS_ADMIN, cid(), state.id)
    registry.app.create_schema(AS_ADMIN, placed(seed_create()))
    with registry.db.transaction(write=False) as cur:
        before = cur.all("SELECT * FROM registry_schema_versions ORDER BY version")
    result = run(["projections", "rebuild"], environment(backend))
    assert result.returncode == 0, result.stderr
    assert "rebuilt" in result.stderr
    with registry.db.transaction(write=False) as cur:
        assert cur.all("SELECT * FROM registry_schema_versions ORDER BY version") == before


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(env: dict[str, str]) -> Iterator[tuple[str, list[str]]]:
    """A real ``registry serve``; yields its URL and what it printed before it was ready."""
    port = _free_port()
    process = subprocess.Popen(
        [*REGISTRY, "serve", "--port", str(port)], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert process.stdout is not None
    printed: list[str] = []
    try:
        for line in process.stdout:  # granian logs when its worker has started
            printed.append(line)
            if "Started worker" in line:
                break
        else:
            pytest.fail(f"server exited with {process.wait()}: {''.join(printed)}")
        yield f"http://127.0.0.1:{port}", printed
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def server(backend: Backend) -> Iterator[str]:
    with serving(environment(backend)) as (url, _):
        yield url


def test_api_token_create_prints_the_token_alone_last(backend: Backend, registry: Registry) -> None:
    result = run(["api-token", "create", "--tenant", "acme", "--name", "ci", "--app-id", "ci-7"],
                 environment(backend))
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("csr_") and " " not in token
    assert token not in result.stderr
    listed = run(["api-token", "list", "--tenant", "acme"], environment(backend))
    (document,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert document["appId"] == "ci-7" and token not in listed.stdout
    revoked = run(["api-token", "revoke", "--tenant", "acme", document["id"]],
                  environment(backend))
    assert revoked.returncode == 0, revoked.stderr
    state = registry.tokens.get(uuid.UUID(document["id"]))
    assert state is not None and state.revoked
    trail = registry.audit.page("acme", actor=None, schema_id=None, before=None, limit=10)
    assert [(e["method"], e["route"]) for e in trail] == [
        ("CLI", "registry api-token revoke"), ("CLI", "registry api-token create")]


def test_first_start_gives_a_working_curl(tmp_path: Path) -> None:
    env = os.environ | {"REGISTRY_DATA_DIR": str(tmp_path / "data")}
    for name in ("REGISTRY_DATABASE_URL", "REGISTRY_JWT_SECRET"):
        env.pop(name, None)
    with serving(env) as (url, printed):
        token_file = tmp_path / "data" / "admin-api-token"
        assert oct(token_file.stat().st_mode & 0o777) == "0o600"
        api_token = token_file.read_text().strip()
        assert api_token not in "".join(printed)
        assert any("registry token --tenant default" in line for line in printed)
        jwt = run(["token", "--tenant", "default", "--subject", "me", "--role", "admin"], env)
        headers = {"Authorization": f"Bearer {jwt.stdout.strip()}", "X-API-Token": api_token}
        response = httpx.get(f"{url}{API}/schemas", headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        assert response.json() == {"schemas": [], "nextCursor": None}


def test_a_real_server_over_http(server: str, registry: Registry) -> None:
    from tests.fixtures import headers

    with httpx.Client(base_url=server, timeout=30, transport=httpx.HTTPTransport(retries=5)) as c:
        assert c.get("/health").json() == {"status": "ok"}
        assert c.get(f"{API}/schemas").status_code == 401
        created = c.post(f"{API}/schemas", json=placed(seed_create()), headers=headers())
        assert created.status_code == 201
        schema_id = created.json()["id"]
        assert c.get(f"{API}/schemas/{schema_id}", headers=headers()).json()["version"] == 1
        bad = c.post(f"{API}/schemas", content=b"{", headers={
            **headers(), "content-type": "application/json"})
        assert bad.status_code == 400
        assert bad.headers["content-type"].startswith("application/problem+json")
