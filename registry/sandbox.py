"""Running untrusted collector scripts: a separate process inside bubblewrap, per run.

The sandbox has no network (a network namespace of its own with nothing in it), sees only a
read-only minimal filesystem (the system's ``/usr`` and libraries, the Python installation,
the runner) and a private ``/tmp``, starts with an empty environment, and runs as an
unprivileged user under resource limits (CPU seconds, address space, processes, file size,
open files) set by the runner before the script runs. The host adds what the kernel cannot:
a wall-clock deadline and a cap on everything the script sends back. ``ctx.http`` requests
reach the host over the pipe; the host decides (``on_http``) whether and how to make them.

Where bubblewrap is missing or cannot start, :class:`Sandbox` refuses to run scripts, unless
the deployment set ``REGISTRY_SANDBOX=off`` for local development, which runs the runner as a
plain child process (still with limits and an empty environment) and logs a warning each time.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from domain.errors import RegistryError
from registry.errors import SettingsError

log = logging.getLogger("registry")
RUNNER = Path(__file__).with_name("sandbox_runner.py")
INSIDE_RUNNER = "/sandbox/runner.py"
INSIDE_PYTHON = "/python"
SYSTEM_DIRS = ("/usr", "/bin", "/lib", "/lib64", "/lib32", "/sbin")
MAX_LINE = 16 * 1024 * 1024
"""The longest single message a script may send (a record, a log line, a request)."""
STDERR_TAIL = 4000
PIPE_BYTES = 1 << 20
"""The size asked of the pipe the runner writes its messages to (Linux's default: 64 KiB)."""
_DECODE = msgspec.json.Decoder().decode
_DECODE_RECORDS = msgspec.json.Decoder(list[tuple[str, dict[str, Any]]]).decode
"""A line of records, its shape checked as it is decoded: pairs of a string and an object."""
IDLE_SECONDS = 1.0


@dataclass(frozen=True)
class Limits:
    """What one run may use. Defaults are documented in docs/collectors.md."""

    cpu_seconds: int = 300
    memory_bytes: int = 1024 * 1024 * 1024
    processes: int = 64
    file_bytes: int = 64 * 1024 * 1024
    open_files: int = 64
    output_bytes: int = 256 * 1024 * 1024
    """Everything the script sends back (records, logs, requests) in one run."""
    wall_seconds: float = 1800.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Limits:
        """``REGISTRY_SANDBOX_CPU_SECONDS``, ``_MEMORY_MB``, ``_PROCESSES``, ``_FILE_MB``,
        ``_OUTPUT_MB``, ``_WALL_SECONDS``; unset ones keep their defaults."""
        default = cls()
        mb = 1024 * 1024
        return cls(
            cpu_seconds=_positive(env, "REGISTRY_SANDBOX_CPU_SECONDS", default.cpu_seconds),
            memory_bytes=_positive(env, "REGISTRY_SANDBOX_MEMORY_MB",
                                   default.memory_bytes // mb) * mb,
            processes=_positive(env, "REGISTRY_SANDBOX_PROCESSES", default.processes),
            file_bytes=_positive(env, "REGISTRY_SANDBOX_FILE_MB", default.file_bytes // mb) * mb,
            output_bytes=_positive(env, "REGISTRY_SANDBOX_OUTPUT_MB",
                                   default.output_bytes // mb) * mb,
            wall_seconds=float(_positive(env, "REGISTRY_SANDBOX_WALL_SECONDS",
                                         int(default.wall_seconds))),
        )

    def for_runner(self) -> dict[str, int]:
        """The limits the runner sets on itself before the script runs."""
        inside = asdict(self)
        return {k: int(v) for k, v in inside.items() if k not in ("output_bytes", "wall_seconds")}


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) <= 0:
        raise SettingsError(f"{name} must be a positive whole number, not {raw!r}")
    return int(raw)


class SandboxUnavailableError(RegistryError):
    """Scripts cannot run here: no usable sandbox, and unsandboxed runs are not allowed."""


class ScriptFailedError(Exception):
    """The run ended without finishing: the script raised, or a limit stopped it."""

    def __init__(self, reason: str, script_traceback: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.script_traceback = script_traceback


@dataclass(frozen=True)
class Records:
    """``(entity_type, record)`` pairs the script yielded, in order: a run of them travels
    as one line, so a sync of many small records is not a message per record."""

    items: list[tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class LogLine:
    """A line of the job's log: ``ctx.log`` or ``print``."""

    level: str
    message: str


@dataclass(frozen=True)
class Checkpoint:
    """``ctx.checkpoint(state)``: where the next sync starts."""

    state: Any


@dataclass(frozen=True)
class Idle:
    """Nothing came from the script for :data:`IDLE_SECONDS`: it is still running (the
    worker's cue to beat its heartbeat)."""


@dataclass(frozen=True)
class Result:
    """What an action returned."""

    output: Any


@dataclass(frozen=True)
class Inspection:
    """What the inspection of a script found: its messages and its declared actions (as
    declared, unchecked)."""

    messages: list[dict[str, Any]]
    actions: list[dict[str, Any]]


Message = Records | LogLine | Checkpoint | Idle | Result
HttpHandler = Callable[[Mapping[str, Any]], dict[str, Any]]
"""Answers one ``ctx.http`` request: ``{"ok": True, "status", "headers", "body"}`` or
``{"ok": False, "error"}`` (a refusal the script sees as an exception)."""


def _refuse_http(request: Mapping[str, Any]) -> dict[str, Any]:
    return {"ok": False, "error": "this run may not make HTTP requests"}


@dataclass
class Sandbox:
    """Starts runs; one instance per registry process (it checks bubblewrap once)."""

    limits: Limits = field(default_factory=Limits)
    unsandboxed: bool = False
    bwrap: str | None = field(default_factory=lambda: shutil.which("bwrap"))
    _usable: bool | None = None
    _why: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Sandbox:
        """The sandbox the settings describe (``REGISTRY_SANDBOX=off`` for development)."""
        env = os.environ if env is None else env
        mode = env.get("REGISTRY_SANDBOX", "bwrap").strip().lower() or "bwrap"
        if mode not in ("bwrap", "off"):
            raise SettingsError(f"REGISTRY_SANDBOX must be bwrap or off, not {mode!r}")
        return cls(limits=Limits.from_env(env), unsandboxed=mode == "off")

    def check(self) -> str | None:
        """``None`` when scripts can run in the sandbox, else why not (checked once)."""
        if self._usable is None:
            self._usable, self._why = self._probe()
        return None if self._usable else self._why

    def run(self, script: str, context: Mapping[str, Any], *, entry: str = "collect",
            on_http: HttpHandler = _refuse_http,
            limits: Limits | None = None) -> Iterator[Message]:
        """Run ``script``'s ``entry(ctx)``; yields what it produces while it runs.

        Returns when the script finished; raises :class:`ScriptFailedError` with a clear
        reason when it raised or a limit stopped it, and :class:`SandboxUnavailableError`
        when scripts cannot run here. The process is gone when this generator ends, however
        it ends (closing it early kills the run).
        """
        limits = limits or self.limits
        job = {"script": script, "entry": entry, "context": dict(context),
               "limits": limits.for_runner()}
        run = self._start(limits, on_http)
        try:
            run.send(job)
            yield from run.messages()
        finally:
            run.stop()

    def call(self, script: str, context: Mapping[str, Any], action: str, value: Any, *,
             on_http: HttpHandler = _refuse_http,
             limits: Limits | None = None) -> tuple[Any, list[LogLine]]:
        """Run the action ``action`` the script declares with ``value`` as its input:
        answers its output and its log lines; :class:`ScriptFailedError` like :meth:`run`."""
        limits = limits or self.limits
        job = {"script": script, "mode": "action", "action": action, "input": value,
               "context": dict(context), "limits": limits.for_runner()}
        run = self._start(limits, on_http)
        output: Any = None
        lines: list[LogLine] = []
        try:
            run.send(job)
            for message in run.messages():
                if isinstance(message, Result):
                    output = message.output
                elif isinstance(message, LogLine):
                    lines.append(message)
        finally:
            run.stop()
        return output, lines

    def inspect(self, script: str, *, limits: Limits | None = None) -> list[dict[str, Any]]:
        """Check ``script`` against the contract in the sandbox (its module code runs there,
        never here): ``[{text, severity: info|warning|error, detail[]}]``. A run that cannot
        finish (a limit, a crash) is one error message."""
        return self.inspect_script(script, limits=limits).messages

    def inspect_script(self, script: str, *, limits: Limits | None = None) -> Inspection:
        """:meth:`inspect`, with the actions the script declares."""
        limits = limits or self.limits
        run = self._start(limits, _refuse_http)
        try:
            run.send({"script": script, "mode": "inspect", "limits": limits.for_runner()})
            while True:
                message = run.next_message()
                if message.get("type") == "inspected":
                    declared = message.get("actions")
                    return Inspection(
                        [dict(m) for m in message.get("messages") or []],
                        [dict(a) for a in declared if isinstance(a, dict)]
                        if isinstance(declared, list) else [])
        except ScriptFailedError as failed:
            return Inspection([{"text": failed.reason, "severity": "error", "detail": []}], [])
        finally:
            run.stop()

    def _start(self, limits: Limits, on_http: HttpHandler) -> _Run:
        """A new runner process in the sandbox, speaking the protocol with this host."""
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            self._command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env={"LC_ALL": "C.UTF-8"}, start_new_session=True,
            close_fds=True)
        return _Run(process, limits, on_http)

    def _command(self) -> list[str]:
        python = _python()
        if self.unsandboxed:
            log.warning("running a collector script WITHOUT a sandbox (REGISTRY_SANDBOX=off): "
                        "for local development only")
            return [_python(inside=False), "-I", "-S", str(RUNNER)]
        why = self.check()
        if why is not None:
            raise SandboxUnavailableError(why)
        assert self.bwrap is not None
        return [self.bwrap, *_bwrap_arguments(), python, "-I", "-S", INSIDE_RUNNER]

    def _probe(self) -> tuple[bool, str]:
        if self.bwrap is None:
            return False, ("bubblewrap (bwrap) is not installed, so collector scripts cannot "
                           "run; install it (scripts/ensure-bubblewrap)")
        try:
            done = subprocess.run(  # noqa: S603 - fixed argv
                [self.bwrap, *_bwrap_arguments(), _python(), "-I", "-S", "-c", "pass"],
                capture_output=True, timeout=30, env={"LC_ALL": "C.UTF-8"}, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            return False, f"bubblewrap cannot start a sandbox here: {error}"
        if done.returncode != 0:
            detail = done.stderr.decode("utf-8", "replace").strip()[-500:]
            return False, f"bubblewrap cannot start a sandbox here: {detail}"
        return True, ""


def _is_system(path: str) -> bool:
    return any(path == d or path.startswith(d + "/") for d in SYSTEM_DIRS)


def _python(*, inside: bool = True) -> str:
    """The base interpreter (not the registry's virtual environment: nothing of the registry
    is importable in the sandbox). Inside, an interpreter installed outside the system
    directories (in a home directory the unprivileged user could not enter) is seen at
    :data:`INSIDE_PYTHON`."""
    prefix = os.path.realpath(sys.base_prefix)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    name = next((n for n in (version, "python3") if (Path(prefix) / "bin" / n).exists()),
                None)
    if name is None:
        raise SandboxUnavailableError(f"no interpreter found under {prefix}/bin")
    root = prefix if not inside or _is_system(prefix) else INSIDE_PYTHON
    return f"{root}/bin/{name}"


def _bwrap_arguments() -> list[str]:
    # As root, no user namespace: the runner must be able to become a real unprivileged
    # user (with one, it would stay root outside and the process limit would not count).
    isolation = (["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                  "--unshare-cgroup-try"] if os.geteuid() == 0 else ["--unshare-all"])
    arguments = [*isolation, "--die-with-parent", "--new-session", "--clearenv",
                 "--setenv", "LC_ALL", "C.UTF-8", "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
                 "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--chdir", "/tmp"]  # noqa: S108 - private
    for directory in SYSTEM_DIRS:
        if os.path.exists(directory):
            arguments += ["--ro-bind", directory, directory]
    prefix = os.path.realpath(sys.base_prefix)
    if not _is_system(prefix):
        arguments += ["--ro-bind", prefix, INSIDE_PYTHON]
    arguments += ["--ro-bind", str(RUNNER), INSIDE_RUNNER]
    if os.geteuid() == 0:
        # The runner drops to an unprivileged user itself (root ignores the process limit).
        arguments += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return arguments


class _Run:
    """The host's end of one run: reads messages under the deadline and the output cap."""

    def __init__(self, process: subprocess.Popen[bytes], limits: Limits,
                 on_http: HttpHandler) -> None:
        self.process = process
        self.limits = limits
        self.on_http = on_http
        self.deadline = time.monotonic() + limits.wall_seconds
        self.received = 0
        self.buffer = b""
        self.lines: deque[bytes] = deque()
        self.ended = False
        self.stderr = b""
        self.selector = selectors.DefaultSelector()
        assert process.stdout is not None and process.stderr is not None
        os.set_blocking(process.stdout.fileno(), False)
        with contextlib.suppress(OSError, AttributeError):  # Linux only; a limit may refuse it
            # A larger pipe lets the script run ahead while the host stores a batch.
            fcntl.fcntl(process.stdout.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        os.set_blocking(process.stderr.fileno(), False)
        self.selector.register(process.stdout, selectors.EVENT_READ, "out")
        self.selector.register(process.stderr, selectors.EVENT_READ, "err")

    def send(self, message: Mapping[str, Any]) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass  # it died; the exit is reported from the read side

    def next_message(self) -> dict[str, Any]:
        """The next message of the runner; :class:`ScriptFailedError` when it ended first."""
        line = self._line()
        if line is None:
            raise self._ended_without_result()
        return self._decode(line)

    def messages(self) -> Iterator[Message]:
        while True:
            line = self._line(IDLE_SECONDS)
            if line is None:
                raise self._ended_without_result()
            if line == b"":
                yield Idle()
                continue
            if line[:1] == b"[":
                yield Records(self._decode_records(line))
                continue
            message = self._decode(line)
            kind = message.get("type")
            if kind == "log":
                yield LogLine(str(message.get("level") or "info"), str(message.get("message")))
            elif kind == "checkpoint":
                yield Checkpoint(message.get("state"))
            elif kind == "result":
                yield Result(message.get("output"))
            elif kind == "http":
                self.send({"id": message.get("id"), **self._http(message)})
                yield Idle()  # a script busy with requests still lets its worker report
            elif kind == "done":
                return
            elif kind == "failed":
                raise ScriptFailedError(str(message.get("error") or "the script failed"),
                                        str(message.get("traceback") or ""))
            else:
                raise ScriptFailedError(f"the script sent an unknown message: {kind!r}")

    def stop(self) -> None:
        """Kill whatever is left of the run and reap it."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.selector.close()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def _http(self, message: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return self.on_http(message)
        except Exception as error:  # the script sees a refusal, the run goes on
            log.warning("ctx.http request failed on the host: %s", type(error).__name__)
            return {"ok": False, "error": "the request could not be made"}

    def _decode_records(self, line: bytes) -> list[tuple[str, dict[str, Any]]]:
        try:
            return _DECODE_RECORDS(line)
        except (ValueError, RecursionError, msgspec.DecodeError):
            raise ScriptFailedError("the script broke the message protocol") from None

    def _decode(self, line: bytes) -> dict[str, Any]:
        try:
            message = _DECODE(line)
        except (ValueError, RecursionError, msgspec.DecodeError):
            raise ScriptFailedError("the script broke the message protocol") from None
        if not isinstance(message, dict):
            raise ScriptFailedError("the script broke the message protocol")
        return message

    def _line(self, idle: float | None = None) -> bytes | None:
        """The next message line; ``None`` when the runner's output ended, ``b""`` when
        none came within ``idle`` seconds (the runner never sends an empty line)."""
        quiet_until = None if idle is None else time.monotonic() + idle
        while not self.lines:
            if self.ended:
                return None
            if quiet_until is not None and time.monotonic() >= quiet_until:
                return b""
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                raise ScriptFailedError(
                    f"the script ran longer than its wall-clock limit "
                    f"({self.limits.wall_seconds:g} s) and was stopped")
            for key, _ in self.selector.select(timeout=min(remaining, 1.0)):
                chunk = os.read(key.fileobj.fileno(), 1 << 20)  # type: ignore[union-attr]
                if key.data == "err":
                    self.stderr = (self.stderr + chunk)[-STDERR_TAIL:]
                    if not chunk:
                        self.selector.unregister(key.fileobj)
                    continue
                if not chunk:
                    self.ended = True
                    continue
                self._count(len(chunk))
                self.buffer += chunk
                if b"\n" in chunk:
                    *complete, rest = self.buffer.split(b"\n")
                    self.lines.extend(complete)
                    self.buffer = rest
            if len(self.buffer) > MAX_LINE:
                self.stop()
                raise ScriptFailedError(
                    f"the script sent a message longer than {MAX_LINE // (1024 * 1024)} MiB")
        return self.lines.popleft()

    def _count(self, size: int) -> None:
        self.received += size
        if self.received > self.limits.output_bytes:
            self.stop()
            raise ScriptFailedError(
                f"the script sent more than its output limit "
                f"({self.limits.output_bytes // (1024 * 1024)} MiB) and was stopped")

    def _ended_without_result(self) -> ScriptFailedError:
        code = self.process.wait()
        detail = self.stderr.decode("utf-8", "replace").strip()
        if code in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
            return ScriptFailedError(
                f"the script used more than its CPU time limit "
                f"({self.limits.cpu_seconds} s) and was stopped")
        if code < 0 or code > 128:
            number = -code if code < 0 else code - 128
            return ScriptFailedError(
                f"the script was stopped by signal {signal.Signals(number).name}"
                + (f": {detail[-300:]}" if detail else ""))
        return ScriptFailedError(
            f"the script's process ended (exit code {code}) without finishing"
            + (f": {detail[-300:]}" if detail else ""))
