"""A real, throwaway PostgreSQL server for the test suite.

``PostgresServer.start()`` runs ``initdb`` into a fresh temporary directory and starts a
private ``postgres`` on a free TCP port of 127.0.0.1 (and a unix socket inside that
directory), with durability switched off for speed.  ``stop()`` kills it and deletes the
directory; an ``atexit`` hook does the same if a test run ends without calling it, and a
small watchdog process does it if this process is killed (SIGTERM, SIGKILL, ...) first.

The binaries are looked up on ``PATH`` and then in ``/usr/lib/postgresql/<version>/bin``
(newest version first); ``scripts/ensure-postgres`` installs them when they are missing.
PostgreSQL refuses to run as root, so when this process is root the server-side programs
(``initdb``, ``pg_ctl``, ``postgres``) run as the ``postgres`` OS user.

Nothing happens at import time.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

__all__ = ["PostgresError", "PostgresServer", "find_bin_dir"]

_DEBIAN_ROOT = Path("/usr/lib/postgresql")
_REQUIRED_PROGRAMS = ("initdb", "pg_ctl", "postgres", "pg_dump")
_SERVICE_ACCOUNT = "postgres"
_HOST = "127.0.0.1"
_USER = "registry"
_START_TIMEOUT = 60.0
_STOP_TIMEOUT = 30
_PORT_ATTEMPTS = 5
# sun_path holds 108 bytes including the NUL; PostgreSQL appends "/.s.PGSQL.<port>".
_MAX_SOCKET_PATH = 107
# Makes pg_dump's psql "\restrict <key>" line (PostgreSQL >= 17.6/16.10/15.14/...) the same
# in every dump, so two dumps of the same data compare equal.
_RESTRICT_KEY = "throwawaytestserver"
# Run with ``python -I -c`` next to each server.  It blocks reading its stdin, a pipe whose
# only writer is the process that started the server; at EOF (that process called stop(),
# exited or was killed) it stops the server and deletes its directory if still there.
_WATCHDOG = """\
import os, shutil, subprocess, sys
pg_ctl, data_dir, root_dir, uid, gid = sys.argv[1:6]
sys.stdin.buffer.read()
if os.path.exists(os.path.join(data_dir, "postmaster.pid")):
    account = {} if uid == "-" else {"user": int(uid), "group": int(gid), "extra_groups": []}
    subprocess.run(
        [pg_ctl, "stop", "-D", data_dir, "-m", "immediate", "-w", "-t", "30"],
        cwd="/", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        timeout=40, check=False, **account,
    )
shutil.rmtree(root_dir, ignore_errors=True)
"""
_SETTINGS: dict[str, str] = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "timezone": "'UTC'",
    "log_timezone": "'UTC'",
}


class PostgresError(RuntimeError):
    """The throwaway server could not be found, started or used."""


def find_bin_dir() -> Path:
    """Return the directory holding ``initdb``, ``pg_ctl``, ``postgres`` and ``pg_dump``.

    ``initdb`` on ``PATH`` wins (symlinks are resolved so its siblings are found), then the
    newest ``/usr/lib/postgresql/<version>/bin``.  Raises ``PostgresError`` if none is
    complete.
    """
    candidates: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path is not None:
        candidates.append(Path(on_path).resolve().parent)
    candidates.extend(sorted(_DEBIAN_ROOT.glob("*/bin"), key=_version_key, reverse=True))
    for candidate in candidates:
        if all(os.access(candidate / name, os.X_OK) for name in _REQUIRED_PROGRAMS):
            return candidate
    raise PostgresError(
        "PostgreSQL server binaries not found (looked for initdb on PATH and in "
        f"{_DEBIAN_ROOT}/*/bin); run scripts/ensure-postgres to install them"
    )


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    """Sort key for ``/usr/lib/postgresql/<version>/bin``: ``15`` > ``9.6`` > junk."""
    try:
        return tuple(int(part) for part in bin_dir.parent.name.split("."))
    except ValueError:
        return (-1,)


def _service_account() -> tuple[int, int] | None:
    """The ``(uid, gid)`` to run server programs as, or ``None`` to run them as ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(_SERVICE_ACCOUNT)
    except KeyError:
        raise PostgresError(
            f"running as root but there is no {_SERVICE_ACCOUNT!r} OS user to run "
            "PostgreSQL as; run scripts/ensure-postgres (the Debian package creates it)"
        ) from None
    return entry.pw_uid, entry.pw_gid


def _clean_env() -> dict[str, str]:
    """Our environment without ``PG*`` variables, with untranslated (C locale) messages."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((_HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _quote_setting(value: str) -> str:
    """A string as a single-quoted postgresql.conf value."""
    return "'" + value.replace("'", "''") + "'"


class PostgresServer:
    """One private PostgreSQL server on 127.0.0.1; create it with ``PostgresServer.start()``.

    Every database on it is reachable without a password as ``user`` over TCP at
    ``host``:``port``.
    """

    host: str
    """Always ``"127.0.0.1"``: the server listens on no other address."""
    port: int
    """The TCP port the server listens on."""
    user: str
    """The superuser every connection uses (``"registry"``), with trust authentication."""
    bin_dir: Path
    """Where ``initdb``, ``pg_ctl``, ``postgres`` and ``pg_dump`` were found."""
    root_dir: Path
    """The temporary directory holding everything below; deleted by ``stop()``."""
    data_dir: Path
    """The cluster's data directory."""
    socket_dir: Path
    """The directory holding the server's unix socket."""
    log_path: Path
    """The server's log file."""

    def __init__(self, bin_dir: Path, root_dir: Path, account: tuple[int, int] | None) -> None:
        """Describe a server in ``root_dir``; use ``start()`` rather than calling this."""
        self.host = _HOST
        self.port = 0
        self.user = _USER
        self.bin_dir = bin_dir
        self.root_dir = root_dir
        self.data_dir = root_dir / "data"
        self.socket_dir = root_dir / "socket"
        self.log_path = root_dir / "server.log"
        self._account = account
        self._owner_pid = os.getpid()
        self._lock = threading.Lock()
        self._stopped = False
        self._restrict_key_supported: bool | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None

    # -- lifecycle ---------------------------------------------------------------------

    @classmethod
    def start(
        cls, base_dir: Path | None = None, *, timeout: float = _START_TIMEOUT
    ) -> PostgresServer:
        """Create, start and return a fresh server; it accepts connections on return.

        The cluster lives in a new temporary directory inside ``base_dir`` (default: the
        system temporary directory).  When running as root, the ``postgres`` OS user must
        be able to reach ``base_dir``.  Raises ``PostgresError`` if the server cannot be
        made ready within ``timeout`` seconds; nothing is left behind in that case.
        """
        deadline = time.monotonic() + timeout
        bin_dir = find_bin_dir()
        account = _service_account()
        if base_dir is not None:
            base_dir.mkdir(parents=True, exist_ok=True)
        root_dir = Path(tempfile.mkdtemp(prefix="pg-", dir=base_dir)).resolve()
        server = cls(bin_dir, root_dir, account)
        atexit.register(server._stop_at_exit)
        try:
            server._start_watchdog()
            server._prepare()
            server._launch(deadline)
        except BaseException:
            server.stop()
            raise
        return server

    def stop(self) -> None:
        """Shut the server down at once and delete its directory; later calls do nothing."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        atexit.unregister(self._stop_at_exit)
        try:
            pid_file = self.data_dir / "postmaster.pid"
            if pid_file.exists():
                pg_ctl = str(self.bin_dir / "pg_ctl")
                command = [pg_ctl, "stop", "-D", str(self.data_dir), "-m", "immediate", "-w"]
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._run([*command, "-t", str(_STOP_TIMEOUT)], timeout=_STOP_TIMEOUT + 10)
                if pid_file.exists():
                    self._kill_postmaster(pid_file)
        finally:
            shutil.rmtree(self.root_dir, ignore_errors=True)
            self._stop_watchdog()

    def halt(self) -> None:
        """Stop the server, ending every session, keeping its data for ``resume()``.

        A fast shutdown: with durability off, an immediate one would lose recent commits.
        """
        command = [str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.data_dir),
                   "-m", "fast", "-w", "-t", str(_STOP_TIMEOUT)]
        result = self._run(command, timeout=_STOP_TIMEOUT + 10)
        if result.returncode != 0:
            raise PostgresError(f"pg_ctl stop failed:\n{result.stdout}{result.stderr}")

    def resume(self, *, timeout: float = _START_TIMEOUT) -> None:
        """Start a halted server again on the same port; it accepts connections on return."""
        deadline = time.monotonic() + timeout
        result = self._run(
            [str(self.bin_dir / "pg_ctl"), "start", "-D", str(self.data_dir), "-l",
             str(self.log_path), "-w", "-t", str(int(timeout)), "-o", f"-p {self.port}"],
            timeout=timeout + 10,
        )
        if result.returncode != 0:
            raise PostgresError(f"pg_ctl start failed:\n{result.stdout}{result.stderr}")
        self._wait_until_accepting(deadline)

    def __enter__(self) -> Self:
        """Use the server as a context manager that stops it on exit."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()

    def __repr__(self) -> str:
        """Where the server listens and lives."""
        state = "stopped" if self._stopped else "running"
        return f"<PostgresServer {self.host}:{self.port} {self.root_dir} {state}>"

    # -- databases ---------------------------------------------------------------------

    def url(self, dbname: str) -> str:
        """The URL of database ``dbname``: ``postgresql://registry@127.0.0.1:<port>/<db>``."""
        return f"postgresql://{quote(self.user, safe='')}@{self.host}:{self.port}/" + quote(
            dbname, safe=""
        )

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database (a random unique name if ``name`` is None); return its URL."""
        if name is None:
            name = f"test_{secrets.token_hex(8)}"
        with self._admin_connection() as connection:
            connection.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name))
            )
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name``, disconnecting its clients first; no error if it is gone."""
        with self._admin_connection() as connection:
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )
            if connection.info.server_version >= 130000:
                statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            else:
                statement = sql.SQL("DROP DATABASE IF EXISTS {}")
            connection.execute(statement.format(sql.Identifier(name)))

    def dump(self, dbname: str) -> str:
        """The whole of database ``dbname``, schema and data, as ``pg_dump`` SQL text."""
        command = [
            str(self.bin_dir / "pg_dump"),
            "--no-password",
            f"--dbname={self._conninfo(dbname)}",
        ]
        if self._supports_restrict_key():
            command.append(f"--restrict-key={_RESTRICT_KEY}")
        result = subprocess.run(
            command,
            cwd=self.root_dir,
            env=_clean_env(),
            capture_output=True,
            encoding="utf-8",
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise PostgresError(f"pg_dump of {dbname!r} failed: {result.stderr.strip()}")
        return result.stdout

    # -- internals ---------------------------------------------------------------------

    def _prepare(self) -> None:
        """Hand the directory to the service account and ``initdb`` a cluster in it."""
        self.socket_dir.mkdir()
        socket_path = self.socket_dir / ".s.PGSQL.65535"
        if len(os.fsencode(socket_path)) > _MAX_SOCKET_PATH:
            raise PostgresError(
                f"unix socket path {socket_path} is too long; use a shorter base_dir"
            )
        if self._account is not None:
            uid, gid = self._account
            for path in (self.root_dir, self.socket_dir):
                os.chown(path, uid, gid)
            probe = self._run(["test", "-w", str(self.root_dir), "-a", "-x", str(self.root_dir)])
            if probe.returncode != 0:
                raise PostgresError(
                    f"the {_SERVICE_ACCOUNT!r} OS user cannot write to {self.root_dir}; "
                    "pass a base_dir that every user can traverse (e.g. under /tmp)"
                )
        initdb = self._run(
            [
                str(self.bin_dir / "initdb"),
                "--pgdata",
                str(self.data_dir),
                "--auth=trust",
                f"--username={self.user}",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            timeout=_START_TIMEOUT,
        )
        if initdb.returncode != 0:
            raise PostgresError(f"initdb failed:\n{initdb.stdout}{initdb.stderr}")
        settings = {**_SETTINGS, "unix_socket_directories": _quote_setting(str(self.socket_dir))}
        lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# Throwaway test server (tests/support/postgres.py)\n" + lines)

    def _launch(self, deadline: float) -> None:
        """Start the postmaster on a free port and wait until it accepts connections."""
        for _attempt in range(_PORT_ATTEMPTS):
            self.port = _free_port()
            log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            remaining = max(1, int(deadline - time.monotonic()))
            result = self._run(
                [
                    str(self.bin_dir / "pg_ctl"),
                    "start",
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_path),
                    "-w",
                    "-t",
                    str(remaining),
                    "-o",
                    f"-p {self.port}",
                ],
                timeout=remaining + 10,
            )
            if result.returncode == 0:
                self._wait_until_accepting(deadline)
                return
            log = self._read_log(log_offset)
            if "Address already in use" not in log or time.monotonic() >= deadline:
                raise PostgresError(
                    f"PostgreSQL did not start (pg_ctl exit {result.returncode}):\n"
                    f"{result.stdout}{result.stderr}\n--- server log ---\n{log}"
                )
        raise PostgresError(f"no free port for PostgreSQL after {_PORT_ATTEMPTS} attempts")

    def _wait_until_accepting(self, deadline: float) -> None:
        """Connect until a query succeeds; raise ``PostgresError`` at ``deadline``."""
        while True:
            try:
                with psycopg.connect(self._conninfo("postgres"), autocommit=True) as connection:
                    connection.execute("SELECT 1")
                    return
            except psycopg.OperationalError as error:
                if time.monotonic() >= deadline:
                    raise PostgresError(
                        f"PostgreSQL on port {self.port} never accepted connections: {error}\n"
                        f"--- server log ---\n{self._read_log(0)}"
                    ) from error
            time.sleep(0.05)  # back-off between connection attempts, bounded by deadline

    def _admin_connection(self) -> psycopg.Connection[tuple[object, ...]]:
        """An autocommit connection to the ``postgres`` maintenance database."""
        return psycopg.connect(self._conninfo("postgres"), autocommit=True)

    def _conninfo(self, dbname: str) -> str:
        """A libpq connection string for ``dbname`` on this server."""
        return make_conninfo(
            host=self.host, port=self.port, user=self.user, dbname=dbname, connect_timeout=10
        )

    def _supports_restrict_key(self) -> bool:
        """Whether this ``pg_dump`` has ``--restrict-key`` (recent minor releases)."""
        if self._restrict_key_supported is None:
            help_text = self._run([str(self.bin_dir / "pg_dump"), "--help"], as_server=False)
            self._restrict_key_supported = "--restrict-key" in help_text.stdout
        return self._restrict_key_supported

    def _run(
        self, command: list[str], *, as_server: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` in ``root_dir`` (as the service account if ``as_server``)."""
        account = self._account if as_server else None
        return subprocess.run(
            command,
            cwd=self.root_dir,
            env=_clean_env(),
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            check=False,
            user=None if account is None else account[0],
            group=None if account is None else account[1],
            extra_groups=None if account is None else [],
        )

    def _read_log(self, offset: int) -> str:
        """The server log from byte ``offset`` on (empty if there is none)."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                return log.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def _kill_postmaster(self, pid_file: Path) -> None:
        """Last resort when ``pg_ctl stop`` failed: SIGKILL the postmaster in ``pid_file``."""
        try:
            pid = int(pid_file.read_text(encoding="utf-8").splitlines()[0])
            cmdline = Path(f"/proc/{pid}/cmdline")
            if cmdline.exists() and b"postgres" not in cmdline.read_bytes():
                return  # stale pid file; the number now belongs to someone else
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass

    def _start_watchdog(self) -> None:
        """Start the process that cleans up after us if we die without calling ``stop()``."""
        uid, gid = ("-", "-") if self._account is None else map(str, self._account)
        self._watchdog = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-c",
                _WATCHDOG,
                str(self.bin_dir / "pg_ctl"),
                str(self.data_dir),
                str(self.root_dir),
                uid,
                gid,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/",
            env=_clean_env(),
            start_new_session=True,  # survives the Ctrl-C / signals aimed at our group
        )

    def _stop_watchdog(self) -> None:
        """Release the watchdog (nothing is left for it to do) and reap it."""
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is None:
            return
        if watchdog.stdin is not None:
            watchdog.stdin.close()
        try:
            watchdog.wait(timeout=_STOP_TIMEOUT + 20)
        except subprocess.TimeoutExpired:
            watchdog.kill()
            watchdog.wait()

    def _stop_at_exit(self) -> None:
        """``atexit`` hook: stop the server unless this is a forked child of its owner."""
        if os.getpid() == self._owner_pid:
            self.stop()
