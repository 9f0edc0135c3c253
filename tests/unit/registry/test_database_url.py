"""Database URLs: what each form means, and the forms that are refused with a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.database_url import (
    PostgresDatabase,
    SqliteDatabase,
    parse_database_url,
    persistence_env,
    redacted,
)
from registry.errors import SettingsError


@pytest.mark.parametrize(("url", "path"), [
    ("sqlite:///data/registry.db", Path("data/registry.db")),
    ("sqlite:////var/lib/registry.db", Path("/var/lib/registry.db")),
    ("sqlite:///my%20file.db", Path("my file.db")),
])
def test_sqlite_paths(url: str, path: Path) -> None:
    assert parse_database_url(url) == SqliteDatabase(path)


def test_postgres_parts_and_defaults() -> None:
    database = parse_database_url("postgresql://app:p%40ss@db.example:6543/schemas")
    assert database == PostgresDatabase("db.example", 6543, "schemas", "app", "p@ss")
    assert "p@ss" not in repr(database) and "p@ss" not in database.describe()
    assert parse_database_url("postgres://db") == PostgresDatabase("db", 5432, "postgres",
                                                                   "postgres")


@pytest.mark.parametrize(("url", "hint"), [
    ("sqlite://data/registry.db", "three slashes for a relative path (sqlite:///data/registry.db)"),
    ("sqlite://", "no file in the SQLite URL"),
    ("sqlite:///", "no file in the SQLite URL"),
    ("sqlite:///data/", "no file in the SQLite URL"),
    ("mysql://u:secret@h/db", "unsupported database URL scheme 'mysql'"),
    ("registry.db", "unsupported database URL scheme ''"),
    ("postgresql://h:notaport/db", "bad database URL"),
])
def test_urls_that_would_be_misread_are_refused(url: str, hint: str) -> None:
    with pytest.raises(SettingsError, match=r"\A[^\n]+\Z") as caught:  # one line
        parse_database_url(url)
    assert hint in str(caught.value) and "secret" not in str(caught.value)


def test_redacted_hides_credentials() -> None:
    assert redacted("postgresql://app:pw@h:5432/db") == "postgresql://***@h:5432/db"
    assert redacted("sqlite:///x.db") == "sqlite:///x.db"


def test_persistence_env_keeps_the_sqlite_file(tmp_path: Path) -> None:
    env = persistence_env(f"sqlite:///{tmp_path / 'sub' / 'r.db'}")
    assert env["SQLITE_DBNAME"] == str(tmp_path / "sub" / "r.db")
    assert (tmp_path / "sub").is_dir()
