"""``registry serve`` start-up: every refusal is one line and exit 2; first tokens never lost.

Each test drives the real command in a subprocess. A refused start must not reach granian,
so refusals run with a timeout: a server that starts anyway fails the test instead of hanging.
"""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from registry import tokens
from registry.service import Registry
from registry.settings import JwtSettings, Settings
from tests.fixtures import API, SECRET, issue_token
from tests.support import servers
from tests.support.servers import REGISTRY, free_port, serving

if TYPE_CHECKING:
    from tests.support.postgres import PostgresServer

REFUSAL_TIMEOUT = 30
PR_CAPBSET_DROP, CAP_DAC_OVERRIDE = 24, 1


def environment(data_dir: Path, **variables: str) -> dict[str, str]:
    return servers.environment(data_dir, SECRET, **variables)


def refused(args: list[str], env: dict[str, str], cwd: Path | None = None,
            preexec: Callable[[], None] | None = None) -> str:
    """Run a command that must be refused: exit 2, one line on stderr, no traceback."""
    result = subprocess.run([*REGISTRY, *args], env=env, cwd=cwd, capture_output=True,
                            text=True, timeout=REFUSAL_TIMEOUT, check=False,
                            preexec_fn=preexec)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("registry: "), result.stderr
    assert result.stdout == ""
    return lines[0]


def serve_refused(env: dict[str, str], *args: str, cwd: Path | None = None,
                  preexec: Callable[[], None] | None = None) -> str:
    return refused(["serve", "--port", str(free_port()), *args], env, cwd, preexec)


def schemas(url: str, api_token: str, tenant: str = "default") -> httpx.Response:
    jwt = issue_token(SECRET, tenant=tenant, subject="me", roles=["admin"])
    return httpx.get(f"{url}{API}/schemas", timeout=30,
                     headers={"Authorization": f"Bearer {jwt}", "X-API-Token": api_token})


def without_root_override() -> None:
    """As root, drop CAP_DAC_OVERRIDE so that permission bits apply as for any user."""
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


# --- settings and data directory -----------------------------------------------------------


def test_a_read_only_data_dir_is_refused_before_any_token_is_issued(tmp_path: Path) -> None:
    data_dir, database = tmp_path / "data", tmp_path / "db" / "registry.db"
    data_dir.mkdir()
    data_dir.chmod(0o555)
    try:
        line = serve_refused(environment(data_dir), "--database-url", f"sqlite:///{database}",
                             preexec=without_root_override)
    finally:
        data_dir.chmod(0o755)
    assert f"{data_dir} is not writable" in line and "REGISTRY_DATA_DIR" in line
    registry = Registry(Settings(f"sqlite:///{database}", data_dir, JwtSettings(secret=SECRET)))
    try:
        assert registry.tokens.count() == 0
    finally:
        registry.close()


def test_a_data_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a directory")
    line = serve_refused(environment(tmp_path / "data"))
    assert "is a file, not a directory" in line and "REGISTRY_DATA_DIR" in line


@pytest.mark.parametrize("how", ["variable", "flag"])
def test_an_unknown_database_scheme_is_refused(tmp_path: Path, how: str) -> None:
    url = "mysql://app:hunter2-password@db.example:3306/registry"
    env = environment(tmp_path / "data")
    args = ["--database-url", url] if how == "flag" else []
    if how == "variable":
        env["REGISTRY_DATABASE_URL"] = url
    line = serve_refused(env, *args)
    assert "unsupported database URL scheme 'mysql'" in line and "postgresql://" in line
    assert "hunter2-password" not in line


@pytest.mark.parametrize(("url", "expected"), [
    ("sqlite:///", "no file in the SQLite URL"),
    ("sqlite://data/registry.db", "sqlite:///data/registry.db"),
])
def test_a_sqlite_url_that_would_be_misread_is_refused(tmp_path: Path, url: str,
                                                      expected: str) -> None:
    line = serve_refused(environment(tmp_path / "data"), "--database-url", url, cwd=tmp_path)
    assert expected in line
    assert not (tmp_path / "registry.db").exists()


def test_an_unreachable_postgres_is_refused_quickly_without_the_password(
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"postgresql://app:s3cret-word@127.0.0.1:{port}/registry"
    started = time.monotonic()
    line = serve_refused(environment(tmp_path / "data", REGISTRY_DATABASE_URL=url))
    assert time.monotonic() - started < 15
    assert f"127.0.0.1:{port}" in line and "s3cret-word" not in line


# --- listen address ------------------------------------------------------------------------


@pytest.mark.parametrize("port", ["80000", "0", "-1"])
def test_a_port_outside_1_to_65535_is_refused(tmp_path: Path, port: str) -> None:
    line = refused(["serve", "--port", port], environment(tmp_path / "data"))
    assert f"--port {port} is not a TCP port" in line


def test_a_host_that_cannot_be_bound_is_refused(tmp_path: Path) -> None:
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): never an address of this machine.
    line = serve_refused(environment(tmp_path / "data"), "--host", "192.0.2.1")
    assert "not an address of this machine" in line and "--host" in line


def test_a_port_held_by_another_program_is_refused(tmp_path: Path) -> None:
    with socket.socket() as other:  # bound like granian: SO_REUSEPORT would let us share
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        line = refused(["serve", "--port", str(port)], environment(tmp_path / "data"))
    assert f"port {port} is already in use" in line


def test_a_second_registry_serve_on_the_same_port_is_refused(tmp_path: Path) -> None:
    port = free_port()
    with serving(environment(tmp_path / "one"), port=port, logs=tmp_path):
        line = refused(["serve", "--port", str(port)], environment(tmp_path / "two"))
    assert f"port {port} is already in use" in line


# --- first admin token ---------------------------------------------------------------------


def test_serve_from_a_directory_without_data_with_a_database_elsewhere(tmp_path: Path) -> None:
    workdir, database = tmp_path / "work", tmp_path / "elsewhere" / "registry.db"
    workdir.mkdir()
    env = environment(tmp_path / "unused")
    del env["REGISTRY_DATA_DIR"]  # the default: ./data, missing in workdir
    with serving(env, "--database-url", f"sqlite:///{database}", cwd=workdir,
                 logs=tmp_path) as (url, log):
        (token_file,) = (workdir / "data").glob("admin-api-token*")
        assert oct(token_file.stat().st_mode & 0o777) == "0o600"
        assert f"cat data/{token_file.name}" in log.read_text()
        assert schemas(url, token_file.read_text().strip()).status_code == 200


@pytest.mark.postgres
def test_first_admin_token_on_postgres_and_never_another_databases_file(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    sqlite_file = data_dir / "admin-api-token"  # a token of the default SQLite database
    sqlite_file.write_text(tokens.generate().text + "\n")
    url = postgres_server.create_database()
    with serving(environment(data_dir, REGISTRY_DATABASE_URL=url), logs=tmp_path) as (base, log):
        banner = log.read_text()
        (token_file,) = data_dir.glob("admin-api-token-*")
        assert f"cat {token_file}" in banner and f"cat {sqlite_file})" not in banner
        assert oct(token_file.stat().st_mode & 0o777) == "0o600"
        assert schemas(base, token_file.read_text().strip()).status_code == 200
    with serving(environment(data_dir, REGISTRY_DATABASE_URL=url), logs=tmp_path) as (_, log):
        assert f"cat {token_file}" in log.read_text()  # still live: announced, not reissued
    assert len(list(data_dir.glob("admin-api-token-*"))) == 1


def test_a_revoked_first_token_is_not_announced(tmp_path: Path) -> None:
    env = environment(tmp_path / "data")
    with serving(env, logs=tmp_path):
        pass
    token_file = tmp_path / "data" / "admin-api-token"
    token_id = str(tokens.parse(token_file.read_text().strip())[0])  # type: ignore[index]
    revoked = subprocess.run([*REGISTRY, "api-token", "revoke", "--tenant", "default", token_id],
                             env=env, capture_output=True, text=True, timeout=60, check=False)
    assert revoked.returncode == 0, revoked.stderr
    with serving(env, logs=tmp_path) as (_, log):
        banner = log.read_text()
    assert "admin-api-token" not in banner and "api-token create" in banner
