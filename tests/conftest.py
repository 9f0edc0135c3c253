"""Fixtures: every integration and e2e test runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from litestar.testing import TestClient

from api.app import create_app
from registry.oauth_settings import OAuthClient, OAuthSettings
from registry.service import Registry
from registry.settings import JwtSettings, Settings
from tests.fixtures import SECRET, Credentials

if TYPE_CHECKING:
    from tests.support.oauth_provider import LocalProvider
    from tests.support.postgres import PostgresServer

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
UNREACHABLE_OAUTH = OAuthSettings(
    clients={"google_drive": OAuthClient("registry", "https://provider.invalid/authorize",
                                         "https://provider.invalid/token")},
    redirect_uri="https://registry.invalid/oauth/return",
)
"""An OAuth client for google_drive whose provider is never reached: authorize answers."""


@pytest.fixture(scope="session")
def oauth_provider() -> Iterator[LocalProvider]:
    """One real local OAuth 2.0 authorization server on 127.0.0.1 for the whole run."""
    from tests.support.oauth_provider import LocalProvider

    with LocalProvider().serve() as provider:
        yield provider


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server on 127.0.0.1 for the whole run."""
    from tests.support.postgres import PostgresServer

    server = PostgresServer.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Backend:
    """A fresh, empty database on one backend, and a way to dump all of it."""

    name: str
    url: str
    data_dir: Path
    server: PostgresServer | None = None
    dbname: str | None = None

    def settings(self) -> Settings:
        """Settings that point at this database."""
        return Settings(database_url=self.url, data_dir=self.data_dir,
                        jwt=JwtSettings(secret=SECRET), oauth=UNREACHABLE_OAUTH,
                        stream_seconds=0)  # a change stream sends what is there and ends

    def dump(self) -> str:
        """The whole database as SQL text (``sqlite3 .dump`` / ``pg_dump``)."""
        if self.server is not None:
            assert self.dbname is not None
            return self.server.dump(self.dbname)
        connection = sqlite3.connect(self.url.removeprefix("sqlite:///"))
        try:
            return "\n".join(connection.iterdump())
        finally:
            connection.close()

    def raw_files(self) -> bytes:
        """For SQLite, the bytes of the database file and its WAL, as stored on disk."""
        path = Path(self.url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """A fresh database on each backend in turn."""
    if request.param == "sqlite":
        yield Backend("sqlite", f"sqlite:///{tmp_path / 'registry.db'}", tmp_path)
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database()
    dbname = url.rsplit("/", 1)[1]
    try:
        yield Backend("postgres", url, tmp_path, server, dbname)
    finally:
        server.drop_database(dbname)


@pytest.fixture
def registry(backend: Backend) -> Iterator[Registry]:
    """The registry (application, read models, queries) on a fresh database."""
    instance = Registry(backend.settings())
    Credentials.use(instance)
    try:
        yield instance
    finally:
        Credentials.use(None)
        instance.close()


@pytest.fixture
def client(backend: Backend, registry: Registry) -> Iterator[TestClient]:  # type: ignore[type-arg]
    """The real Litestar app over that registry, through Litestar's test client."""
    app = create_app(backend.settings(), registry=registry)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
