"""Settings, read once from the environment into a typed object and passed down.

Reading settings only parses variables: it opens no file and creates nothing, so any process
may read them (the API workers, the tests). Files are read when a key source is built
(``JwtSettings.key_source``), and the development signing secret is created by the start-up
step of ``registry serve`` / ``registry token`` (``registry.startup``), never here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from registry.database_url import Database, parse_database_url, persistence_env
from registry.errors import SettingsError
from registry.jwt_keys import JwksFile, KeySource, PublicKeyFile, SharedSecret
from registry.oauth_settings import OAuthSettings
from registry.sandbox import Sandbox

__all__ = ["ConnectionSettings", "JwtSettings", "OAuthSettings", "Settings", "SettingsError",
           "persistence_env"]

DEFAULT_DATA_DIR = "data"
MAX_BODY_BYTES = 1024 * 1024
LEEWAY_SECONDS = 30
READY_MAX_LAG = 1000
"""``/ready`` answers 503 when the read models are more events behind than this."""
STREAM_SECONDS = 300
SECRET_FILE = "jwt-secret"  # noqa: S105 - a file name

log = logging.getLogger("registry.auth")


@dataclass(frozen=True)
class JwtSettings:
    """How bearer tokens are verified; exactly one key source is used (see ``key_source``)."""

    secret: str | None = field(default=None, repr=False)
    secret_file: Path | None = None
    """The development secret in the data dir, used when no other key is configured."""
    public_key_file: Path | None = None
    jwks_file: Path | None = None
    issuer: str | None = None
    audience: str | None = None
    leeway_seconds: int = LEEWAY_SECONDS

    def __post_init__(self) -> None:
        if self.leeway_seconds < 0:
            raise SettingsError("the JWT leeway must be >= 0 seconds")

    @classmethod
    def from_env(cls, env: Mapping[str, str], secret_file: Path | None = None) -> JwtSettings:
        """Read ``REGISTRY_JWT_*``: a JWKS file wins over a public key file over a secret.

        ``secret_file`` stands in for an unset ``REGISTRY_JWT_SECRET``. Only parses: a bad
        key shows when ``key_source`` is called (at start-up).
        """
        jwks = _path(env, "REGISTRY_JWT_JWKS_FILE")
        pem = _path(env, "REGISTRY_JWT_PUBLIC_KEY_FILE")
        _warn_ignored(env, jwks, pem)
        key_file = jwks is not None or pem is not None
        secret = None if key_file else env.get("REGISTRY_JWT_SECRET") or None
        return cls(
            secret=secret,
            secret_file=None if key_file or secret else secret_file,
            public_key_file=None if jwks else pem,
            jwks_file=jwks,
            issuer=env.get("REGISTRY_JWT_ISSUER") or None,
            audience=env.get("REGISTRY_JWT_AUDIENCE") or None,
            leeway_seconds=_leeway(env.get("REGISTRY_JWT_LEEWAY")),
        )

    @property
    def uses_key_file(self) -> bool:
        """True when bearer tokens are verified with a public key or JWKS file."""
        return self.jwks_file is not None or self.public_key_file is not None

    def signing_secret(self) -> str:
        """The HS256 secret: ``REGISTRY_JWT_SECRET``, else the content of ``secret_file``."""
        if self.secret:
            return self.secret
        if self.secret_file is None:
            raise SettingsError("no JWT signing secret: set REGISTRY_JWT_SECRET")
        try:
            return self.secret_file.read_text().strip()
        except FileNotFoundError:
            raise SettingsError(
                f"no signing secret: set REGISTRY_JWT_SECRET or run 'registry serve' once "
                f"to create {self.secret_file}"
            ) from None
        except OSError as error:
            raise SettingsError(
                f"cannot read the signing secret {self.secret_file}: {error.strerror}"
            ) from None

    def key_source(self) -> KeySource:
        """The configured key source (JWKS file, else public key file, else secret)."""
        if self.jwks_file is not None:
            return JwksFile(self.jwks_file)
        if self.public_key_file is not None:
            return PublicKeyFile(self.public_key_file)
        if self.secret or self.secret_file is not None:
            return SharedSecret(self.signing_secret())
        raise SettingsError(
            "no JWT verification key: set REGISTRY_JWT_JWKS_FILE, REGISTRY_JWT_PUBLIC_KEY_FILE "
            "or REGISTRY_JWT_SECRET"
        )


TEST_TIMEOUT_SECONDS = 10.0
API_BASE_TYPES = ("github", "slack", "notion", "google_drive")
"""The connector types whose API host is fixed, hence overridable (``REGISTRY_API_BASE_*``)."""


@dataclass(frozen=True)
class ConnectionSettings:
    """How connection tests reach other systems (``registry.connection``)."""

    timeout_seconds: float = TEST_TIMEOUT_SECONDS
    """The bound of a whole test, connect included."""
    allow_private_targets: bool = False
    """Whether a test may reach loopback, private, link-local... addresses."""
    api_bases: Mapping[str, str] = field(default_factory=dict)
    """Connector type -> base URL of its API, for the types whose host is fixed."""
    ca_file: Path | None = None
    """Extra CA certificates (PEM) trusted for HTTPS, besides the system's."""

    def __post_init__(self) -> None:
        if not 0 < self.timeout_seconds <= 300:
            raise SettingsError("REGISTRY_TEST_TIMEOUT_SECONDS must be > 0 and <= 300")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ConnectionSettings:
        """Read ``REGISTRY_TEST_TIMEOUT_SECONDS``, ``REGISTRY_ALLOW_PRIVATE_TARGETS``,
        ``REGISTRY_API_BASE_<TYPE>`` and ``REGISTRY_OUTBOUND_CA_FILE``."""
        bases = {name: env[f"REGISTRY_API_BASE_{name.upper()}"].rstrip("/")
                 for name in API_BASE_TYPES if env.get(f"REGISTRY_API_BASE_{name.upper()}")}
        return cls(timeout_seconds=_seconds(env.get("REGISTRY_TEST_TIMEOUT_SECONDS")),
                   allow_private_targets=_flag(env, "REGISTRY_ALLOW_PRIVATE_TARGETS"),
                   api_bases=bases, ca_file=_path(env, "REGISTRY_OUTBOUND_CA_FILE"))


@dataclass(frozen=True)
class Settings:
    """Everything the registry needs to start."""

    database_url: str
    data_dir: Path
    jwt: JwtSettings = field(default_factory=JwtSettings)
    max_body_bytes: int = MAX_BODY_BYTES
    follow_interval: float = 0.5
    ready_max_lag: int = READY_MAX_LAG
    sandbox: Sandbox = field(default_factory=Sandbox)
    """Where collector scripts run (``REGISTRY_SANDBOX``, ``REGISTRY_SANDBOX_*`` limits)."""
    sync_workers: int = 1
    """Sync workers each serving process runs (``REGISTRY_SYNC_WORKERS``; 0: none)."""
    connections: ConnectionSettings = field(default_factory=ConnectionSettings)
    oauth: OAuthSettings = field(default_factory=OAuthSettings)
    stream_seconds: int = STREAM_SECONDS
    """How long a change stream stays open before the server ends it and the client
    reconnects with ``Last-Event-ID`` (``REGISTRY_STREAM_SECONDS``; 0: what is there, then end)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``REGISTRY_*`` variables; the default database is a SQLite file."""
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("REGISTRY_DATA_DIR") or DEFAULT_DATA_DIR)
        return cls(
            database_url=env.get("REGISTRY_DATABASE_URL") or default_database_url(data_dir),
            data_dir=data_dir,
            jwt=JwtSettings.from_env(env, secret_file=data_dir / SECRET_FILE),
            ready_max_lag=_whole(env, "REGISTRY_READY_MAX_LAG", READY_MAX_LAG),
            sandbox=Sandbox.from_env(env),
            sync_workers=_whole(env, "REGISTRY_SYNC_WORKERS", 1),
            connections=ConnectionSettings.from_env(env),
            oauth=OAuthSettings.from_env(env),
            stream_seconds=_whole(env, "REGISTRY_STREAM_SECONDS", STREAM_SECONDS),
        )

    @property
    def database(self) -> Database:
        """The database the URL names (SettingsError when the URL is not usable)."""
        return parse_database_url(self.database_url)

    def with_database_url(self, url: str | None) -> Settings:
        """A copy with another database URL (when one is given)."""
        return self if not url else replace(self, database_url=url)


def default_database_url(data_dir: Path) -> str:
    """The embedded default: a SQLite file in the data directory."""
    return f"sqlite:///{data_dir / 'registry.db'}"


def _path(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name, "").strip()
    return Path(value).expanduser() if value else None


def _warn_ignored(env: Mapping[str, str], jwks: Path | None, pem: Path | None) -> None:
    winner = "REGISTRY_JWT_JWKS_FILE" if jwks else "REGISTRY_JWT_PUBLIC_KEY_FILE" if pem else None
    losers = ["REGISTRY_JWT_PUBLIC_KEY_FILE"] if jwks and pem else []
    if winner and env.get("REGISTRY_JWT_SECRET"):
        losers.append("REGISTRY_JWT_SECRET")
    for name in losers:
        log.warning("%s is ignored: %s takes precedence", name, winner)


def _leeway(value: str | None) -> int:
    if value is None or not value.strip():
        return LEEWAY_SECONDS
    try:
        seconds = int(value)
    except ValueError:
        seconds = -1
    if seconds < 0:
        raise SettingsError(f"REGISTRY_JWT_LEEWAY must be a whole number of seconds >= 0, "
                            f"not {value!r}")
    return seconds


def _whole(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit():
        raise SettingsError(f"{name} must be a whole number >= 0, not {value!r}")
    return int(value)


def _seconds(value: str | None) -> float:
    if value is None or not value.strip():
        return TEST_TIMEOUT_SECONDS
    try:
        return float(value)
    except ValueError:
        raise SettingsError(f"REGISTRY_TEST_TIMEOUT_SECONDS must be a number of seconds, "
                            f"not {value!r}") from None


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"{name} must be true or false, not {value!r}")
