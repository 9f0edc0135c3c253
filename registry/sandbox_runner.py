"""The program that runs a collector script inside the sandbox (standard library only).

The host starts it as ``python -I -S runner.py`` inside bubblewrap and speaks JSON lines with
it: the first line on stdin is the job (script, entry point, context, limits); from then on
every line the runner writes on its protocol stream is a message: a JSON array is a run of
records in the order the script yielded them (``[[entity_type, record], ...]``), a JSON object
any other message (``log``, ``checkpoint``, ``http``, an action's ``result``, ``done`` or
``failed``); every line it reads back is the answer to its last ``http`` message. The
runner is trusted until it hands control to the script: it sets the resource limits, drops
to an unprivileged user when it starts as root, and only then compiles and runs the script.
Nothing from the registry is importable here.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import types
from json.encoder import encode_basestring_ascii

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: the runner starts without importing ``typing``
    from collections.abc import Callable, Iterator, Mapping
    from typing import Any, TextIO

NOBODY = 65534
CO_GENERATOR = 0x20
"""``inspect.CO_GENERATOR`` (importing :mod:`inspect` costs a run 13 ms)."""
FLUSH_SECONDS = 0.2
RUN_RECORDS = 500
"""Records per line at most: the host decodes a run of them in one go."""
RUN_BYTES = 1 << 20
"""A run's line stays under this many bytes, unless one record alone is larger."""
_ENCODE = json.JSONEncoder(separators=(",", ":"), default=str).encode


def _record_encoder() -> Callable[[Any], str]:
    """What :data:`_ENCODE` does, from one C encoder made once: ``JSONEncoder.encode`` makes
    one a call, which costs more than encoding a small record."""
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)  # private, not typed
    if c_make_encoder is None:  # a Python without the C accelerator
        return _ENCODE
    # markers, default, encoder, indent, key and item separators, sort_keys, skipkeys,
    # allow_nan: JSONEncoder's own for these settings.
    chunks = c_make_encoder({}, str, encode_basestring_ascii, None, ":", ",", False, False,
                            True)
    return lambda value: "".join(chunks(value, 0))


class Protocol:
    """The runner's end of the pipe: one JSON message per line each way. Records wait in a
    run until it is full, :data:`FLUSH_SECONDS` have passed or another message is sent
    (which goes after them, so the host sees everything in the order it happened)."""

    def __init__(self, out: TextIO, inp: TextIO) -> None:
        self.out = out
        self.inp = inp
        self.flushed = time.monotonic()
        self.run: list[str] = []
        self.run_bytes = 0
        self._encode = _record_encoder()

    def record(self, entity_type: str, record: Mapping[str, Any]) -> None:
        """Add one yielded record to the run (encoded now: a value that cannot be encoded
        fails the script at the record that holds it)."""
        encoded = self._encode((entity_type, record))  # a failure ends the run
        if self.run and self.run_bytes + len(encoded) > RUN_BYTES:
            self._write_run()
        self.run.append(encoded)
        self.run_bytes += len(encoded) + 1
        if len(self.run) >= RUN_RECORDS:
            self._write_run()
        self._maybe_flush(False)

    def send(self, message: Mapping[str, Any], *, flush: bool = False) -> None:
        """Write one message; the stream is flushed when asked (a request awaiting its
        answer, the end) and at least every :data:`FLUSH_SECONDS`, so progress shows."""
        if self.run:
            self._write_run()
        self.out.write(_ENCODE(message) + "\n")
        self._maybe_flush(flush)

    def _write_run(self) -> None:
        self.out.write("[" + ",".join(self.run) + "]\n")
        self.run, self.run_bytes = [], 0

    def _maybe_flush(self, flush: bool) -> None:
        now = time.monotonic()
        if flush or now - self.flushed >= FLUSH_SECONDS:
            if self.run:
                self._write_run()
            self.out.flush()
            self.flushed = now

    def receive(self) -> dict[str, Any]:
        line = self.inp.readline()
        if not line:
            raise SystemExit(3)  # the host went away
        answer: dict[str, Any] = json.loads(line)
        return answer


class HttpError(Exception):
    """An ``ctx.http`` request the host refused or could not make."""


class Response:
    """What ``ctx.http`` answers: ``status``, ``headers``, ``text`` and ``json()``."""

    def __init__(self, status: int, headers: dict[str, str], text: str) -> None:
        self.status = status
        self.status_code = status
        self.headers = headers
        self.text = text

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.text)

    def raise_for_status(self) -> None:
        if not self.ok:
            raise HttpError(f"HTTP {self.status}")


class Http:
    """HTTP through the host: it decides which hosts may be reached and makes the request."""

    def __init__(self, protocol: Protocol) -> None:
        self._protocol = protocol
        self._next = 0

    def request(self, method: str, url: str, *, params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None, json_body: Any = None,
                data: str | None = None) -> Response:
        self._next += 1
        body = json.dumps(json_body) if json_body is not None else data
        sent_headers = dict(headers or {})
        if json_body is not None:
            sent_headers.setdefault("Content-Type", "application/json")
        self._protocol.send({"type": "http", "id": self._next, "method": method.upper(),
                             "url": url, "params": dict(params or {}),
                             "headers": sent_headers, "body": body}, flush=True)
        answer = self._protocol.receive()
        if not answer.get("ok"):
            raise HttpError(str(answer.get("error") or "the request failed"))
        return Response(int(answer["status"]), dict(answer.get("headers") or {}),
                        str(answer.get("body") or ""))

    def get(self, url: str, **kwargs: Any) -> Response:
        return self.request("GET", url, **_body_keywords(kwargs))

    def post(self, url: str, **kwargs: Any) -> Response:
        return self.request("POST", url, **_body_keywords(kwargs))

    def put(self, url: str, **kwargs: Any) -> Response:
        return self.request("PUT", url, **_body_keywords(kwargs))

    def patch(self, url: str, **kwargs: Any) -> Response:
        return self.request("PATCH", url, **_body_keywords(kwargs))

    def delete(self, url: str, **kwargs: Any) -> Response:
        return self.request("DELETE", url, **_body_keywords(kwargs))

    def get_json(self, url: str, **kwargs: Any) -> Any:
        response = self.get(url, **kwargs)
        response.raise_for_status()
        return response.json()

    def post_json(self, url: str, body: Any, **kwargs: Any) -> Any:
        response = self.post(url, json=body, **kwargs)
        response.raise_for_status()
        return response.json()


def _body_keywords(kwargs: dict[str, Any]) -> dict[str, Any]:
    if "json" in kwargs:
        kwargs["json_body"] = kwargs.pop("json")
    return kwargs


class Log:
    """``ctx.log("text")`` or ``ctx.log.warning("text")``: lines in the job's log."""

    def __init__(self, protocol: Protocol) -> None:
        self._protocol = protocol

    def __call__(self, message: Any, level: str = "info") -> None:
        self._protocol.send({"type": "log", "level": level, "message": str(message)})

    def info(self, message: Any) -> None:
        self(message, "info")

    def warning(self, message: Any) -> None:
        self(message, "warning")

    def error(self, message: Any) -> None:
        self(message, "error")


class Context:
    """What ``collect(ctx)`` gets."""

    def __init__(self, protocol: Protocol, context: Mapping[str, Any]) -> None:
        self._protocol = protocol
        self.config: dict[str, Any] = dict(context.get("config") or {})
        self.credentials: dict[str, Any] = dict(context.get("credentials") or {})
        self.variables: dict[str, Any] = dict(context.get("variables") or {})
        self.state: Any = context.get("state")
        self.http = Http(protocol)
        self.log = Log(protocol)

    def checkpoint(self, state: Any) -> None:
        """Remember where the sync is: the next sync of the connector starts from here."""
        self.state = state
        self._protocol.send({"type": "checkpoint", "state": state})


class _Printed:
    """``print`` inside a script: each line becomes an info line of the job's log."""

    def __init__(self, log: Log, level: str) -> None:
        self._log = log
        self._level = level
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        while "\n" in self._pending:
            line, self._pending = self._pending.split("\n", 1)
            self._log(line, self._level)
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._log(self._pending, self._level)
            self._pending = ""


def limit(limits: Mapping[str, int]) -> None:
    """Resource limits for this process and everything it starts (set before the script)."""
    pairs = {
        "cpu_seconds": resource.RLIMIT_CPU, "memory_bytes": resource.RLIMIT_AS,
        "processes": resource.RLIMIT_NPROC, "file_bytes": resource.RLIMIT_FSIZE,
        "open_files": resource.RLIMIT_NOFILE,
    }
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for name, which in pairs.items():
        if name in limits:
            value = int(limits[name])
            # CPU: SIGXCPU at the limit (reported as such), SIGKILL a second later.
            hard = value + 1 if which == resource.RLIMIT_CPU else value
            resource.setrlimit(which, (value, hard))


def drop_privileges() -> None:
    """Become an unprivileged user when started as root: the process limit counts per user,
    and root ignores it."""
    if os.getuid() == 0:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)


class Actions:
    """``@action(id, description=..., input=..., output=...)``: the tools a script declares
    besides ``collect``. The decorator is in every script's namespace; what it declares is
    checked on the host (an id, a description, JSON Schemas), never trusted here."""

    def __init__(self) -> None:
        self.declared: dict[str, dict[str, Any]] = {}
        self.functions: dict[str, Any] = {}
        self.problems: list[str] = []

    def __call__(self, action_id: Any, *, description: Any = None, name: Any = None,
                 input: Any = None, output: Any = None) -> Any:
        def register(function: Any) -> Any:
            key = str(action_id)
            if key in self.declared:
                self.problems.append(f"action {key!r} is declared twice")
            elif not callable(function):
                self.problems.append(f"action {key!r} does not decorate a function")
            else:
                self.declared[key] = {"id": action_id, "name": name,
                                      "description": description,
                                      "inputSchema": input, "outputSchema": output}
                self.functions[key] = function
            return function

        return register

    def documents(self) -> list[dict[str, Any]]:
        """The declarations as JSON (anything that is not JSON is a problem)."""
        found = []
        for key, declared in self.declared.items():
            try:
                found.append(json.loads(json.dumps(declared)))
            except (TypeError, ValueError):
                self.problems.append(f"action {key!r}: its declaration is not JSON data")
        return found


def records(entry: Any, ctx: Context) -> Iterator[tuple[str, Any]]:
    produced = entry(ctx)
    if produced is None:
        return
    for item in produced:
        if (not isinstance(item, tuple) or len(item) != 2 or not isinstance(item[0], str)
                or not isinstance(item[1], dict)):
            raise TypeError("collect(ctx) must yield (entity_type, record) pairs: a string "
                            f"and a dict, not {type(item).__name__}")
        yield item


def main() -> int:
    protocol = Protocol(os.fdopen(os.dup(1), "w", encoding="utf-8"), sys.stdin)
    job = protocol.receive()
    limit(job.get("limits") or {})
    drop_privileges()
    log = Log(protocol)
    sys.stdout = _Printed(log, "info")
    if job.get("mode") == "inspect":
        return inspect(protocol, str(job["script"]))
    try:
        code = compile(str(job["script"]), "<collector>", "exec")
        actions = Actions()
        namespace: dict[str, Any] = {"__name__": "collector", "action": actions}
        exec(code, namespace)  # noqa: S102 - the sandbox exists to run this
        ctx = Context(protocol, job.get("context") or {})
        if job.get("mode") == "action":
            function = actions.functions.get(str(job.get("action")))
            if function is None:
                raise LookupError(f"the script declares no action {job.get('action')!r}")
            output = function(ctx, job.get("input"))
            sys.stdout.flush()
            protocol.send({"type": "result", "output": output}, flush=True)
            protocol.send({"type": "done"}, flush=True)
            return 0
        entry = namespace.get(str(job.get("entry") or "collect"))
        if not callable(entry):
            raise TypeError(f"the script defines no function {job.get('entry') or 'collect'}")
        for entity_type, record in records(entry, ctx):
            protocol.record(entity_type, record)
        sys.stdout.flush()
    except BaseException as error:  # every failure is reported to the host
        if isinstance(error, SystemExit) and error.code == 3:
            raise
        protocol.send({"type": "failed", "error": _reason(error, job.get("limits") or {}),
                       "traceback": _script_frames(error)}, flush=True)
        return 1
    protocol.send({"type": "done"}, flush=True)
    return 0


def inspect(protocol: Protocol, script: str) -> int:
    """Check a script against the contract without collecting anything: it compiles, its
    module code runs, and it defines ``collect(ctx)`` as a generator function. Sends one
    ``inspected`` message with the findings (``{text, severity, detail}``)."""
    messages: list[dict[str, Any]] = []

    def say(severity: str, text: str, *detail: str) -> None:
        messages.append({"text": text, "severity": severity, "detail": list(detail)})

    try:
        code = compile(script, "<collector>", "exec")
    except SyntaxError as error:
        say("error", f"line {error.lineno}: {error.msg}", (error.text or "").rstrip())
        protocol.send({"type": "inspected", "messages": messages}, flush=True)
        return 0
    actions = Actions()
    namespace: dict[str, Any] = {"__name__": "collector", "action": actions}
    try:
        exec(code, namespace)  # noqa: S102 - the sandbox exists to run this
    except BaseException as error:  # the module's own code failed
        say("error", f"the script fails when loaded: {type(error).__name__}: {error}"[:2000],
            _script_frames(error))
        protocol.send({"type": "inspected", "messages": messages}, flush=True)
        return 0
    entry = namespace.get("collect")
    if entry is None:
        say("error", "the script defines no function collect(ctx)")
    elif not isinstance(entry, types.FunctionType):
        say("error", "collect is not a function")
    else:
        parameters = entry.__code__.co_argcount
        if parameters != 1:
            say("error", f"collect must take one argument (ctx), not {parameters}")
        if not entry.__code__.co_flags & CO_GENERATOR:
            say("error", "collect must be a generator: it yields (entity_type, record) pairs")
    if not messages:
        say("info", "the script defines collect(ctx)")
    declared = actions.documents()
    for problem in actions.problems:
        say("error", problem)
    protocol.send({"type": "inspected", "messages": messages, "actions": declared},
                  flush=True)
    return 0


def _reason(error: BaseException, limits: Mapping[str, int]) -> str:
    """What went wrong, in words; a limit that was hit is named."""
    text = f"{type(error).__name__}: {error}"[:2000]
    if isinstance(error, MemoryError) and "memory_bytes" in limits:
        mib = int(limits["memory_bytes"]) // (1024 * 1024)
        return f"{text.rstrip(': ')} (the script used more than its memory limit, {mib} MiB)"
    if isinstance(error, BlockingIOError) and "processes" in limits:
        return (f"{text} (the sandbox allows at most {limits['processes']} processes, "
                "counting the script itself)")
    return text


def _script_frames(error: BaseException) -> str:
    """The traceback lines of the script itself (not of this runner); :mod:`traceback` is
    imported only now, as a run that fails needs it."""
    import traceback

    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if frame.filename == "<collector>"]
    return "".join(traceback.format_list(frames))[:4000]


if __name__ == "__main__":
    sys.exit(main())
