"""Settings, read once from the environment into a typed object and passed down."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from registry.auth import JwtSettings

DEFAULT_DATA_DIR = "data"
MAX_BODY_BYTES = 1024 * 1024


class SettingsError(ValueError):
    """A setting has a value the registry cannot use."""


@dataclass(frozen=True)
class Settings:
    """Everything the registry needs to start."""

    database_url: str
    data_dir: Path
    jwt_secret: str | None = None
    jwt_env: tuple[tuple[str, str], ...] = ()
    """The ``REGISTRY_JWT_*`` variables (key files, issuer, audience, leeway)."""
    max_body_bytes: int = MAX_BODY_BYTES
    follow_interval: float = 0.5

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``REGISTRY_*`` variables; the default database is a SQLite file."""
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("REGISTRY_DATA_DIR") or DEFAULT_DATA_DIR)
        url = env.get("REGISTRY_DATABASE_URL") or f"sqlite:///{data_dir / 'registry.db'}"
        return cls(
            database_url=url,
            data_dir=data_dir,
            jwt_secret=env.get("REGISTRY_JWT_SECRET") or None,
            jwt_env=tuple(sorted((k, v) for k, v in env.items() if k.startswith("REGISTRY_JWT_"))),
        )

    @property
    def uses_key_file(self) -> bool:
        """True when bearer tokens are verified with a public key or JWKS file."""
        env = dict(self.jwt_env)
        return bool(env.get("REGISTRY_JWT_JWKS_FILE") or env.get("REGISTRY_JWT_PUBLIC_KEY_FILE"))

    def jwt_settings(self) -> JwtSettings:
        """How bearer tokens are verified; the data directory's secret is the fallback."""
        env = dict(self.jwt_env)
        if self.jwt_secret:
            env["REGISTRY_JWT_SECRET"] = self.jwt_secret
        default = None if self.uses_key_file else self.signing_secret(create=True)
        return JwtSettings.from_env(env, default_secret=default)

    def with_database_url(self, url: str | None) -> Settings:
        """A copy with another database URL (when one is given)."""
        return self if not url else replace(self, database_url=url)

    def signing_secret(self, *, create: bool) -> str:
        """``REGISTRY_JWT_SECRET``, else the data directory's secret (made when ``create``)."""
        if self.jwt_secret:
            return self.jwt_secret
        path = self.data_dir / "jwt-secret"
        if path.exists():
            return path.read_text().strip()
        if not create:
            raise SettingsError(
                f"no signing secret: set REGISTRY_JWT_SECRET or run 'registry serve' once "
                f"to create {path}"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secret + "\n")
        return secret


def persistence_env(url: str) -> dict[str, str]:
    """The eventsourcing environment for a ``sqlite://`` or ``postgresql://`` URL."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path)
        if path.startswith("//") or path.startswith("/"):
            path = path[1:]
        if not path:
            raise SettingsError(f"no file in SQLite URL {url!r} (use sqlite:///path/to/file.db)")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "registry.persistence:RegistrySQLiteFactory",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    if parts.scheme in ("postgres", "postgresql"):
        return {
            "PERSISTENCE_MODULE": "registry.persistence:RegistryPostgresFactory",
            "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")) or "postgres",
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_POOL_SIZE": "5",
            "POSTGRES_MAX_OVERFLOW": "15",
            "POSTGRES_LOCK_TIMEOUT": "10",
            "POSTGRES_CONNECT_TIMEOUT": "10",
            # The database-function insert path bypasses the recorder hook that destroys
            # data keys on erase: it must stay off.
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        }
    raise SettingsError(
        f"unsupported database URL scheme {parts.scheme!r}: use sqlite or postgresql"
    )
