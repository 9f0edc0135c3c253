"""The ``registry`` command: help, tokens, rebuild, and a real server walked over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from registry.auth import TokenVerifier
from registry.service import Registry
from tests.conftest import Backend
from tests.fixtures import ADMIN, API, SECRET, seed_create

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


def test_projections_rebuild(backend: Backend, registry: Registry) -> None:
    state = registry.create_schema(ADMIN, seed_create())
    registry.erase_schema(ADMIN, "connector-uuid", state.id)
    registry.create_schema(ADMIN, seed_create())
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


@pytest.fixture
def server(backend: Backend) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [*REGISTRY, "serve", "--port", str(port)], env=environment(backend),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert process.stdout is not None
    try:
        for line in process.stdout:  # granian logs when its worker has started
            if "Started worker" in line:
                break
        else:
            pytest.fail(f"server exited with {process.wait()}")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_real_server_over_http(server: str, registry: Registry) -> None:
    from tests.fixtures import headers

    with httpx.Client(base_url=server, timeout=30, transport=httpx.HTTPTransport(retries=5)) as c:
        assert c.get("/health").json() == {"status": "ok"}
        assert c.get(f"{API}/schemas").status_code == 401
        created = c.post(f"{API}/schemas", json=seed_create(), headers=headers())
        assert created.status_code == 201
        schema_id = created.json()["id"]
        assert c.get(f"{API}/schemas/{schema_id}", headers=headers()).json()["version"] == 1
        bad = c.post(f"{API}/schemas", content=b"{", headers={
            **headers(), "content-type": "application/json"})
        assert bad.status_code == 400
        assert bad.headers["content-type"].startswith("application/problem+json")
