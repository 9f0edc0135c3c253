"""The start-up checks of ``registry serve`` (and the secret ``registry token`` needs).

Everything that can be wrong with the settings, the data directory, the database or the
listen address is found here, before a banner is printed, a token issued or granian started.
Each problem is a ``StartupError`` whose message is one line saying what is wrong and how to
fix it: the command prints it and exits with status 2, without a traceback.
"""

from __future__ import annotations

import errno
import os
import secrets
import socket
import tempfile
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from registry.database_url import Database, PostgresDatabase, SqliteDatabase
from registry.settings import JwtSettings, Settings

CONNECT_TIMEOUT_SECONDS = 3
"""How long an unreachable PostgreSQL may delay the refusal to start."""
ANSWER_TIMEOUT_SECONDS = 0.5
MAX_PORT = 65535


class StartupError(Exception):
    """A problem that stops start-up; the message is one line: what is wrong, how to fix it."""


def check_serve(settings: Settings, host: str, port: int, workers: int) -> None:
    """Every check of ``registry serve``; creates the data dir, and the secret once all pass."""
    if not 1 <= port <= MAX_PORT:
        raise StartupError(f"--port {port} is not a TCP port: use a number from 1 to {MAX_PORT}")
    if workers < 1:
        raise StartupError(f"--workers {workers}: use at least 1 worker process")
    database = settings.database
    prepare_data_dir(settings.data_dir)
    check_database(database)
    check_listen(host, port)
    ensure_signing_secret(settings.jwt)  # last: a refused start leaves no new secret behind
    settings.jwt.key_source()  # a bad key file fails now, not on the first request


def prepare_data_dir(path: Path) -> None:
    """Create the data directory when missing; refuse one that is a file or not writable."""
    if path.exists() and not path.is_dir():
        raise StartupError(f"the data directory {path} is a file, not a directory: move the "
                           f"file away or set REGISTRY_DATA_DIR to a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StartupError(f"cannot create the data directory {path} ({error.strerror}): "
                           f"create it or set REGISTRY_DATA_DIR to a writable directory") from None
    _check_writable(path, "the data directory", "set REGISTRY_DATA_DIR to a writable directory")


def _check_writable(path: Path, what: str, alternative: str) -> None:
    """Write and delete a probe file: permission bits alone say nothing about read-only mounts."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-check-", dir=path)
    except OSError as error:
        raise StartupError(f"{what} {path} is not writable ({error.strerror}): "
                           f"make it writable (chmod u+w {path}) or {alternative}") from None
    os.close(fd)
    os.unlink(probe)


def ensure_signing_secret(jwt: JwtSettings) -> None:
    """Create the development signing secret (mode 0600) when it is the key and missing."""
    path = jwt.secret_file
    if jwt.uses_key_file or jwt.secret or path is None or path.exists():
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return
    except OSError as error:
        raise StartupError(f"cannot create the signing secret {path} ({error.strerror}): make "
                           f"its directory writable or set REGISTRY_JWT_SECRET") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48) + "\n")


def check_database(database: Database) -> None:
    """A SQLite file that can be written, or a PostgreSQL server that answers."""
    if isinstance(database, PostgresDatabase):
        _check_postgres(database)
        return
    _check_sqlite(database)


def _check_sqlite(database: SqliteDatabase) -> None:
    path = database.path
    if path.is_dir():
        raise StartupError(f"the SQLite database {path} is a directory: use a file path in the "
                           f"database URL (sqlite:///path/to/file.db)")
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        raise StartupError(f"the SQLite database's folder {folder} is a file: "
                           f"choose another path in the database URL")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StartupError(f"cannot create {folder} for the SQLite database "
                           f"({error.strerror}): choose another path") from None
    _check_writable(folder, "the SQLite database's folder", "choose another path")


def _check_postgres(database: PostgresDatabase) -> None:
    """Connect once with a short timeout; the message names host and port, never the password."""
    conninfo = make_conninfo(
        "", host=database.host, port=database.port, dbname=database.dbname, user=database.user,
        password=database.password or None, connect_timeout=CONNECT_TIMEOUT_SECONDS,
    )
    try:
        connection = psycopg.connect(conninfo)
    except psycopg.Error as error:
        reason = _first_line(str(error)).replace(database.password or "\0", "***")
        raise StartupError(f"cannot connect to {database.describe()}: {reason}: start it or fix "
                           f"REGISTRY_DATABASE_URL / --database-url") from None
    connection.close()


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else "no reason given"


def check_listen(host: str, port: int) -> None:
    """Refuse an address that cannot be bound, or a port another program already serves."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise StartupError(f"cannot listen on {where}: the host {host!r} is unknown "
                           f"({error.strerror}): use --host 127.0.0.1 or 0.0.0.0") from None
    family, _, _, _, address = found[0]
    _check_bind(family, address, where, port)
    if _answers(family, address):
        raise StartupError(f"port {port} is already in use: something answers on {where}; "
                           f"stop it or choose another --port")


def _check_bind(family: int, address: tuple[object, ...], where: str, port: int) -> None:
    """Bind without SO_REUSEPORT, which would let two servers share the port unnoticed.

    SO_REUSEADDR (POSIX) is set: it only skips connections of an earlier run still in
    TIME_WAIT, and Linux still refuses the bind while any socket listens on the port.
    """
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        if os.name == "posix":
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            raise StartupError(f"cannot listen on {where}: {_bind_hint(error, port)}") from None


def _bind_hint(error: OSError, port: int) -> str:
    if error.errno == errno.EADDRINUSE:
        return (f"port {port} is already in use by another program (perhaps another "
                f"'registry serve'): stop it or choose another --port")
    if error.errno == errno.EADDRNOTAVAIL:
        return ("the host is not an address of this machine: use --host 127.0.0.1 "
                "(this machine only) or 0.0.0.0 (every interface)")
    if error.errno == errno.EACCES:
        return "permission denied (ports below 1024 need privileges): choose a higher --port"
    return f"{error.strerror}: choose another --host or --port"


def _answers(family: int, address: tuple[object, ...]) -> bool:
    """True when a connection to the address (loopback for a wildcard) is accepted."""
    host, port = str(address[0]), int(str(address[1]))
    if host in ("0.0.0.0", "::"):  # noqa: S104 - a wildcard is answered on loopback
        host = "127.0.0.1" if family == socket.AF_INET else "::1"
    with socket.socket(family, socket.SOCK_STREAM) as client:
        client.settimeout(ANSWER_TIMEOUT_SECONDS)
        return client.connect_ex((host, port)) == 0


def signing_secret_for_tokens(settings: Settings) -> str:
    """The secret ``registry token`` signs with, created in the data dir on first use."""
    if settings.jwt.uses_key_file:
        raise StartupError("this registry verifies bearer tokens with a public key or JWKS "
                           "file: get tokens from your identity provider")
    if not settings.jwt.secret:
        prepare_data_dir(settings.data_dir)
        ensure_signing_secret(settings.jwt)
    return settings.jwt.signing_secret()
