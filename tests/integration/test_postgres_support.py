"""The throwaway PostgreSQL server that the test suite runs against."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    """A server of this module's own, so its life cycle can be checked."""
    started = PostgresServer.start()
    try:
        yield started
    finally:
        started.stop()


def test_url_names_the_loopback_address_port_and_user(server: PostgresServer) -> None:
    assert server.host == "127.0.0.1"
    assert server.user == "registry"
    assert server.url("some_db") == f"postgresql://registry@127.0.0.1:{server.port}/some_db"


def test_a_fresh_database_takes_writes_and_reads(server: PostgresServer) -> None:
    url = server.create_database()
    dbname = url.rsplit("/", 1)[1]
    try:
        with psycopg.connect(url) as connection:
            tables = connection.execute(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
            ).fetchone()
            assert tables == (0,)
            connection.execute("CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)")
            connection.execute("INSERT INTO notes VALUES (1, 'hello'), (2, 'wörld')")
        with psycopg.connect(url) as connection:
            rows = connection.execute("SELECT id, body FROM notes ORDER BY id").fetchall()
        assert rows == [(1, "hello"), (2, "wörld")]
    finally:
        server.drop_database(dbname)


def test_databases_are_separate_and_named_uniquely(server: PostgresServer) -> None:
    first, second = server.create_database(), server.create_database()
    named = server.create_database("explicit_name")
    try:
        assert first != second
        assert named == server.url("explicit_name")
        with psycopg.connect(first) as connection:
            connection.execute("CREATE TABLE only_here (x int)")
        with psycopg.connect(second) as connection:
            found = connection.execute("SELECT to_regclass('only_here')").fetchone()
        assert found == (None,)
    finally:
        for url in (first, second, named):
            server.drop_database(url.rsplit("/", 1)[1])


def test_dump_holds_schema_and_data(server: PostgresServer) -> None:
    url = server.create_database()
    dbname = url.rsplit("/", 1)[1]
    try:
        with psycopg.connect(url) as connection:
            connection.execute("CREATE TABLE marked (body text)")
            connection.execute("INSERT INTO marked VALUES ('marker-7f3a9c ünïcode')")
        dump = server.dump(dbname)
        assert "CREATE TABLE public.marked" in dump
        assert "marker-7f3a9c ünïcode" in dump
        assert server.dump(dbname) == dump
    finally:
        server.drop_database(dbname)


def test_drop_database_disconnects_clients_and_removes_it(server: PostgresServer) -> None:
    url = server.create_database()
    dbname = url.rsplit("/", 1)[1]
    lingering = psycopg.connect(url)
    try:
        server.drop_database(dbname)
        assert lingering.closed or lingering.broken or _is_disconnected(lingering)
    finally:
        lingering.close()
    with psycopg.connect(server.url("postgres")) as connection:
        exists = connection.execute(
            "SELECT count(*) FROM pg_database WHERE datname = %s", [dbname]
        ).fetchone()
    assert exists == (0,)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=5).close()
    server.drop_database(dbname)  # dropping a database that is gone is not an error


def _is_disconnected(connection: psycopg.Connection[tuple[object, ...]]) -> bool:
    try:
        connection.execute("SELECT 1")
    except psycopg.OperationalError:
        return True
    return False


def test_listens_only_on_loopback_with_test_settings(server: PostgresServer) -> None:
    with psycopg.connect(server.url("postgres")) as connection:
        settings: dict[str, str] = dict(
            connection.execute(
                "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
                [
                    [
                        "listen_addresses",
                        "fsync",
                        "synchronous_commit",
                        "full_page_writes",
                        "max_connections",
                        "unix_socket_directories",
                    ]
                ],
            ).fetchall()
        )
        shown = connection.execute("SHOW listen_addresses").fetchone()
    assert shown == ("127.0.0.1",)
    assert settings["listen_addresses"] == "127.0.0.1"
    assert settings["fsync"] == "off"
    assert settings["synchronous_commit"] == "off"
    assert settings["full_page_writes"] == "off"
    assert settings["max_connections"] == "200"
    assert Path(settings["unix_socket_directories"]) == server.socket_dir
    assert (server.socket_dir / f".s.PGSQL.{server.port}").is_socket()


def test_stop_is_idempotent_and_leaves_nothing_behind(tmp_path: Path) -> None:
    base = tmp_path / "world-readable"
    base.mkdir()
    # pytest's tmp_path lives under a 0700 directory that the postgres OS user cannot
    # enter, so fall back to the system temporary directory when running as root.
    own = PostgresServer.start(base if _traversable(base) else None)
    port, root = own.port, own.root_dir
    assert root.is_dir()
    own.stop()
    own.stop()
    assert not root.exists()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def _traversable(path: Path) -> bool:
    """Whether every user may enter every directory from / down to ``path``."""
    return all(part.stat().st_mode & 0o001 for part in [path, *path.parents])
