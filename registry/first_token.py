"""The first admin API token of a fresh database, written into the data directory.

Each database has a token file of its own, so a data directory shared by several databases
never hands out a token of the wrong one: ``admin-api-token`` for the embedded default
(``<data dir>/registry.db``), ``admin-api-token-<12 hex>`` for any other database, the hex
taken from SHA-256 of the SQLite file's absolute path or of PostgreSQL's host, port and
database name (never credentials). The banner points at the file only while it holds a live,
unrevoked token of the database being served.

A first token is never lost: the file is opened before the token is issued, and if it cannot
be written the token is revoked at once, so the next start issues a new one.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from domain.common import Actor
from registry import tokens
from registry.cli_audit import record_cli_change
from registry.database_url import PostgresDatabase, SqliteDatabase
from registry.service import Registry
from registry.settings import Settings
from registry.startup import StartupError

DEV_TENANT = "default"
ADMIN_TOKEN_FILE = "admin-api-token"  # noqa: S105 - a file name
FIRST_TOKEN_NAME = "first admin token"  # noqa: S105 - a token's display name
ISSUER = Actor(subject="registry-serve", tenant=DEV_TENANT)


@dataclass(frozen=True)
class AdminTokenFile:
    """A token file that holds a live token of the database being served."""

    path: Path
    issued_now: bool


def token_file(settings: Settings) -> Path:
    """Where the first admin token of the settings' database is kept."""
    database = settings.database
    default = SqliteDatabase(settings.data_dir / "registry.db")
    if isinstance(database, SqliteDatabase):
        if database.path.resolve() == default.path.resolve():
            return settings.data_dir / ADMIN_TOKEN_FILE
        identity = f"sqlite:{database.path.resolve()}"
    else:
        identity = f"postgresql:{database.host}:{database.port}/{database.dbname}"
    suffix = hashlib.sha256(identity.encode()).hexdigest()[:12]
    return settings.data_dir / f"{ADMIN_TOKEN_FILE}-{suffix}"


def first_admin_token(settings: Settings) -> AdminTokenFile | None:
    """Issue the first token on a fresh database; the file when it holds a live token."""
    path = token_file(settings)
    registry = _open(settings)
    try:
        if _is_fresh(registry):
            _issue_into(registry, path)
            return AdminTokenFile(path, issued_now=True)
        return AdminTokenFile(path, issued_now=False) if holds_live_token(registry, path) else None
    finally:
        registry.close()


def _open(settings: Settings) -> Registry:
    try:
        return Registry(settings)
    except Exception as error:  # a start-up boundary: say what failed in one line
        reason = " ".join(str(error).split()) or type(error).__name__
        database = settings.database
        if isinstance(database, PostgresDatabase) and database.password:
            reason = reason.replace(database.password, "***")
        raise StartupError(f"cannot open {settings.database.describe()}: {reason}") from None


def _is_fresh(registry: Registry) -> bool:
    """No token yet, or only first tokens revoked because their file could not be written."""
    total = registry.tokens.count()
    if total == 0:
        return True
    unwritten = [state for state in registry.tokens.for_tenant(DEV_TENANT)
                 if state.name == FIRST_TOKEN_NAME and state.revoked
                 and state.revoked_by == ISSUER.subject]
    return len(unwritten) == total


def holds_live_token(registry: Registry, path: Path) -> bool:
    """True when the file's token is a live, unrevoked token of this registry's database."""
    try:
        parsed = tokens.parse(path.read_text().strip())
    except OSError:
        return False
    if parsed is None:
        return False
    token_id, secret = parsed
    state = registry.tokens.get(token_id)
    return state is not None and not state.revoked and tokens.matches(secret, state.secret_hash)


def _issue_into(registry: Registry, path: Path) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as error:
        raise StartupError(f"cannot write the first admin API token to {path} "
                           f"({error.strerror}): make {path.parent} writable") from None
    try:
        with os.fdopen(fd, "w") as handle:
            state, text = registry.app.issue_api_token(ISSUER, FIRST_TOKEN_NAME, "bootstrap")
            _write(registry, handle.fileno(), text, temporary, path, state.id)
        record_cli_change(registry, ISSUER, "serve: first admin API token", 201)
    finally:
        temporary.unlink(missing_ok=True)


def _write(registry: Registry, fd: int, text: str, temporary: Path, path: Path,
           token_id: uuid.UUID) -> None:
    """Write, sync and move the token into place; revoke it if any step fails."""
    try:
        os.write(fd, (text + "\n").encode())
        os.fsync(fd)
        os.replace(temporary, path)
    except OSError as error:
        registry.app.revoke_api_token(ISSUER, token_id)
        record_cli_change(registry, ISSUER, "serve: unwritten first admin API token revoked",
                          204)
        raise StartupError(f"cannot write the first admin API token to {path} "
                           f"({error.strerror}); it was revoked: free space or make "
                           f"{path.parent} writable and start again") from None

