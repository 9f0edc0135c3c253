"""Database URLs: what ``REGISTRY_DATABASE_URL`` / ``--database-url`` may say, and what it means.

Parsed in one place so that a URL the registry would misread is refused with a hint instead of
quietly using another database (``sqlite://data/registry.db`` names the host ``data``, which
would be dropped, leaving ``registry.db`` in the working directory).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from registry.errors import SettingsError

_EXAMPLES = (
    "sqlite:///relative/file.db, sqlite:////absolute/file.db "
    "or postgresql://user:pass@host:5432/db"
)


@dataclass(frozen=True)
class SqliteDatabase:
    """An embedded database: one file."""

    path: Path

    def describe(self) -> str:
        """How messages name it."""
        return f"SQLite file {self.path}"


@dataclass(frozen=True)
class PostgresDatabase:
    """A PostgreSQL database; the password never appears in ``repr`` or messages."""

    host: str
    port: int
    dbname: str
    user: str
    password: str = field(default="", repr=False)

    def describe(self) -> str:
        """How messages name it: host, port and database, never credentials."""
        return f"PostgreSQL at {self.host}:{self.port} (database {self.dbname!r})"


Database = SqliteDatabase | PostgresDatabase


def parse_database_url(url: str) -> Database:
    """The database a URL names, else SettingsError with a one-line hint."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise SettingsError(
            f"bad database URL {redacted(url)!r} ({error}): use {_EXAMPLES}"
        ) from None
    if parts.scheme == "sqlite":
        return _sqlite(url, parts.netloc, unquote(parts.path))
    if parts.scheme in ("postgres", "postgresql"):
        return PostgresDatabase(
            host=parts.hostname or "127.0.0.1",
            port=port or 5432,
            dbname=unquote(parts.path.lstrip("/")) or "postgres",
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
        )
    raise SettingsError(
        f"unsupported database URL scheme {parts.scheme!r} in {redacted(url)!r}: use {_EXAMPLES}"
    )


def _sqlite(url: str, netloc: str, path: str) -> SqliteDatabase:
    if netloc:
        raise SettingsError(
            f"the SQLite URL {url!r} has a host part ({netloc!r}), which would be ignored: "
            f"use three slashes for a relative path (sqlite:///{netloc}{path}) "
            f"or four for an absolute one (sqlite:////{netloc}{path})"
        )
    file = path[1:] if path.startswith("/") else path
    if not file or file.endswith("/"):
        raise SettingsError(f"no file in the SQLite URL {url!r}: use sqlite:///path/to/file.db")
    return SqliteDatabase(Path(file))


def redacted(url: str) -> str:
    """The URL without its credentials, fit for messages and banners."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"


def persistence_env(url: str) -> dict[str, str]:
    """The eventsourcing environment for a ``sqlite://`` or ``postgresql://`` URL."""
    database = parse_database_url(url)
    if isinstance(database, SqliteDatabase):
        database.path.parent.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "registry.persistence:RegistrySQLiteFactory",
            "SQLITE_DBNAME": str(database.path),
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    return {
        "PERSISTENCE_MODULE": "registry.persistence:RegistryPostgresFactory",
        "POSTGRES_DBNAME": database.dbname,
        "POSTGRES_HOST": database.host,
        "POSTGRES_PORT": str(database.port),
        "POSTGRES_USER": database.user,
        "POSTGRES_PASSWORD": database.password,
        "POSTGRES_POOL_SIZE": "5",
        "POSTGRES_MAX_OVERFLOW": "15",
        "POSTGRES_LOCK_TIMEOUT": "10",
        # An outage must cost a caller at most about two seconds (docs/decisions.md 17):
        # libpq's connect timeout (its minimum), and the wait for a free pooled connection.
        "POSTGRES_CONNECT_TIMEOUT": "2",
        "POSTGRES_POOL_TIMEOUT": "1.5",
        # The database-function insert path bypasses the recorder hook that destroys
        # data keys on erase: it must stay off.
        "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
    }
