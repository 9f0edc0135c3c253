"""Collector scripts in the real sandbox (bubblewrap): what a script can do, and every way
out it must not find. Each escape ends the run with a clear reason; the host goes on."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from typing import Any

import pytest

from registry.errors import SettingsError
from registry.sandbox import (
    Checkpoint,
    Idle,
    Limits,
    LogLine,
    Records,
    Sandbox,
    SandboxUnavailableError,
    ScriptFailedError,
)

LIMITS = Limits(cpu_seconds=1, memory_bytes=512 << 20, processes=16, wall_seconds=3,
                output_bytes=4 << 20)


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    box = Sandbox(limits=LIMITS)
    assert box.check() is None, box.check()  # the test command installs bubblewrap
    return box


def failure(sandbox: Sandbox, script: str, **kwargs: Any) -> str:
    with pytest.raises(ScriptFailedError) as failed:
        list(sandbox.run(script, {}, **kwargs))
    return failed.value.reason


def test_a_script_yields_records_logs_and_checkpoints(sandbox: Sandbox) -> None:
    script = (
        "def collect(ctx):\n"
        "    ctx.log('starting at ' + str(ctx.state))\n"
        "    print('printed line')\n"
        "    for n in range(3):\n"
        "        yield ('user', {'id': n, 'team': ctx.config['team'],\n"
        "                        'token': ctx.credentials['token'][:3],\n"
        "                        'region': ctx.variables['region']})\n"
        "    ctx.checkpoint({'page': 4})\n"
    )
    context = {"config": {"team": "data"}, "credentials": {"token": "abcdef"},
               "variables": {"region": "eu"}, "state": {"page": 1}}
    messages = [m for m in sandbox.run(script, context) if not isinstance(m, Idle)]
    assert messages == [
        LogLine("info", "starting at {'page': 1}"), LogLine("info", "printed line"),
        Records([("user", {"id": n, "team": "data", "token": "abc", "region": "eu"})
                 for n in range(3)]),
        Checkpoint({"page": 4}),
    ]


def test_records_travel_in_runs_that_keep_the_order_of_everything(sandbox: Sandbox) -> None:
    script = (
        "def collect(ctx):\n"
        "    for n in range(1201):\n"
        "        yield ('a' if n % 2 else 'b', {'n': n})\n"
        "    ctx.log('between')\n"
        "    yield ('a', {'n': 'last'})\n"
    )
    messages = [m for m in sandbox.run(script, {}) if not isinstance(m, Idle)]
    runs = [m for m in messages if isinstance(m, Records)]
    # At most 500 a run (fewer when a run waited long enough to be flushed early).
    assert len(runs) >= 4 and all(len(run.items) <= 500 for run in runs)
    assert [item for run in runs[:-1] for item in run.items] == [
        ("a" if n % 2 else "b", {"n": n}) for n in range(1201)]
    assert messages[-2:] == [LogLine("info", "between"), Records([("a", {"n": "last"})])]


def test_a_record_is_taken_as_it_was_yielded(sandbox: Sandbox) -> None:
    # One dict reused and changed after each yield, a value JSON has no type for (sent as
    # its text, like everything else the runner sends), non-ASCII text, then a record that
    # cannot be encoded at all: the run fails at it, saying why, after the ones before.
    script = (
        "import datetime\n"
        "def collect(ctx):\n"
        "    row = {}\n"
        "    for n in range(3):\n"
        "        row['n'] = n\n"
        "        row['at'] = datetime.date(2024, 1, n + 1)\n"
        "        row['name'] = 'Zoë'\n"
        "        yield ('a', row)\n"
        "    looped = {'id': 'loop'}\n"
        "    looped['self'] = looped\n"
        "    yield ('a', looped)\n"
    )
    taken: list[tuple[str, dict[str, Any]]] = []
    with pytest.raises(ScriptFailedError) as failed:
        for message in sandbox.run(script, {}):
            if isinstance(message, Records):
                taken += message.items
    assert taken == [("a", {"n": n, "at": f"2024-01-0{n + 1}", "name": "Zoë"})
                     for n in range(3)]
    assert failed.value.reason == "ValueError: Circular reference detected"


def test_http_goes_through_the_host_which_decides(sandbox: Sandbox) -> None:
    seen: list[Mapping[str, Any]] = []

    def on_http(request: Mapping[str, Any]) -> dict[str, Any]:
        seen.append(request)
        if "allowed.example" not in request["url"]:
            return {"ok": False, "error": "host not allowed: other.example"}
        return {"ok": True, "status": 200, "headers": {"content-type": "application/json"},
                "body": '{"items": [1, 2]}'}

    script = (
        "def collect(ctx):\n"
        "    data = ctx.http.get_json('https://allowed.example/items', params={'page': 1})\n"
        "    for item in data['items']:\n"
        "        yield ('item', {'n': item})\n"
        "    ctx.http.get('https://other.example/')\n"
    )
    with pytest.raises(ScriptFailedError) as failed:
        list(sandbox.run(script, {}, on_http=on_http))
    assert failed.value.reason == "HttpError: host not allowed: other.example"
    assert [r["url"] for r in seen] == ["https://allowed.example/items", "https://other.example/"]
    assert seen[0]["params"] == {"page": 1} and seen[0]["method"] == "GET"


def test_no_network_at_all(sandbox: Sandbox) -> None:
    script = ("import socket\n"
              "def collect(ctx):\n"
              "    socket.create_connection(('127.0.0.1', 22), timeout=2)\n"
              "    yield ('x', {})\n")
    reason = failure(sandbox, script)
    assert reason.startswith(("OSError", "ConnectionRefusedError")), reason
    dns = ("import socket\n"
           "def collect(ctx):\n"
           "    socket.getaddrinfo('pypi.org', 443)\n"
           "    yield ('x', {})\n")
    assert failure(sandbox, dns).startswith("gaierror")


def test_no_view_of_the_registry_files_or_environment(
    sandbox: Sandbox, tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret_file = tmp_path / "registry.db"
    secret_file.write_text("secret rows")
    monkeypatch.setenv("REGISTRY_JWT_SECRET", "do-not-leak")
    script = (
        "import os\n"
        "def collect(ctx):\n"
        "    yield ('env', dict(os.environ))\n"
        f"    yield ('db', {{'exists': os.path.exists({str(secret_file)!r})}})\n"
        f"    yield ('cwd', {{'exists': os.path.exists({os.getcwd()!r})}})\n"
        "    yield ('who', {'uid': os.getuid()})\n"
        "    open('/etc/shadow').read()\n"
    )
    produced: list[Any] = []
    with pytest.raises(ScriptFailedError) as failed:
        for message in sandbox.run(script, {}):
            produced.append(message)
    assert failed.value.reason.startswith("FileNotFoundError")
    env, db, cwd, who = (record for m in produced if isinstance(m, Records)
                         for _, record in m.items)
    assert not any(key.startswith("REGISTRY") for key in env)
    assert "do-not-leak" not in str(env)
    assert db == {"exists": False} and cwd == {"exists": False}
    assert who["uid"] != 0
    readonly = ("def collect(ctx):\n"
                "    open('/usr/evil', 'w')\n"
                "    yield ('x', {})\n")
    assert failure(sandbox, readonly).startswith(("OSError", "PermissionError"))


def test_a_fork_bomb_is_stopped_by_the_process_limit(sandbox: Sandbox) -> None:
    script = ("import os\n"
              "def collect(ctx):\n"
              "    while True:\n"
              "        os.fork()\n"
              "    yield ('x', {})\n")
    assert "at most 16 processes" in failure(sandbox, script)


def test_allocating_8_gib_hits_the_memory_limit(sandbox: Sandbox) -> None:
    script = ("def collect(ctx):\n"
              "    block = bytearray(8 << 30)\n"
              "    yield ('x', {'n': len(block)})\n")
    assert "memory limit, 512 MiB" in failure(sandbox, script)


def test_an_endless_loop_hits_the_cpu_limit(sandbox: Sandbox) -> None:
    script = ("def collect(ctx):\n"
              "    while True:\n"
              "        pass\n"
              "    yield ('x', {})\n")
    patient = dataclasses.replace(LIMITS, wall_seconds=120)  # a busy machine is no excuse
    assert failure(sandbox, script, limits=patient) == (
        "the script used more than its CPU time limit (1 s) and was stopped")


def test_waiting_forever_hits_the_wall_clock_limit(sandbox: Sandbox) -> None:
    script = ("import time\n"
              "def collect(ctx):\n"
              "    time.sleep(3600)\n"
              "    yield ('x', {})\n")
    assert failure(sandbox, script) == (
        "the script ran longer than its wall-clock limit (3 s) and was stopped")


def test_printing_a_gigabyte_hits_the_output_limit(sandbox: Sandbox) -> None:
    script = ("def collect(ctx):\n"
              "    line = 'x' * (1 << 20)\n"
              "    for _ in range(1024):\n"
              "        print(line)\n"
              "    yield ('x', {})\n")
    assert failure(sandbox, script) == (
        "the script sent more than its output limit (4 MiB) and was stopped")


def test_bad_scripts_say_what_is_wrong(sandbox: Sandbox) -> None:
    assert failure(sandbox, "def collect(ctx)\n    yield 1\n").startswith("SyntaxError")
    assert failure(sandbox, "x = 1\n") == "TypeError: the script defines no function collect"
    wrong = "def collect(ctx):\n    yield {'id': 1}\n"
    assert "must yield (entity_type, record) pairs" in failure(sandbox, wrong)
    raised = "def collect(ctx):\n    raise ValueError('page 3 is broken')\n    yield 1\n"
    with pytest.raises(ScriptFailedError) as failed:
        list(sandbox.run(raised, {}))
    assert failed.value.reason == "ValueError: page 3 is broken"
    assert "<collector>" in failed.value.script_traceback
    assert "runner.py" not in failed.value.script_traceback


@pytest.mark.parametrize("line", [
    "'not json'", "'[1, 2]'", "'{}'",
    "'{\"type\": \"log\", \"message\": ' + '[' * 5000 + ']' * 5000 + '}'",
    "'[[\"x\", {\"a\": ' + '[' * 5000 + ']' * 5000 + '}]]'",
], ids=["text", "not-records", "no-type", "deep-message", "deep-record"])
def test_a_script_writing_on_the_protocol_stream_breaks_only_its_run(
        sandbox: Sandbox, line: str) -> None:
    # The script can write anything on the pipe the runner speaks on; the host refuses it.
    script = ("import os\n"
              "def collect(ctx):\n"
              f"    os.write(1, ({line}).encode() + b'\\n')\n"
              "    yield ('x', {'n': 1})\n")
    reason = failure(sandbox, script)
    assert reason in ("the script broke the message protocol",
                      "the script sent an unknown message: None"), reason


def test_closing_the_run_early_kills_it(sandbox: Sandbox) -> None:
    script = ("def collect(ctx):\n"
              "    n = 0\n"
              "    while True:\n"
              "        n += 1\n"
              "        yield ('x', {'n': n})\n")
    run = sandbox.run(script, {})
    first = next(m for m in run if not isinstance(m, Idle))
    assert isinstance(first, Records) and first.items[0] == ("x", {"n": 1})
    run.close()  # the generator's finally kills and reaps the process


def test_without_bubblewrap_scripts_are_refused_unless_development_mode(
    caplog: pytest.LogCaptureFixture,
) -> None:
    missing = Sandbox(limits=LIMITS, bwrap=None)
    assert "bubblewrap (bwrap) is not installed" in (missing.check() or "")
    with pytest.raises(SandboxUnavailableError):
        list(missing.run("def collect(ctx):\n    yield ('x', {})\n", {}))
    development = Sandbox.from_env({"REGISTRY_SANDBOX": "off",
                                    "REGISTRY_SANDBOX_CPU_SECONDS": "5"})
    with caplog.at_level(logging.WARNING, logger="registry"):
        assert [m for m in development.run("def collect(ctx):\n    yield ('x', {})\n", {})
                if not isinstance(m, Idle)] == [Records([("x", {})])]
    assert "WITHOUT a sandbox" in caplog.text


def test_limits_come_from_settings() -> None:
    limits = Limits.from_env({"REGISTRY_SANDBOX_CPU_SECONDS": "7",
                              "REGISTRY_SANDBOX_MEMORY_MB": "256",
                              "REGISTRY_SANDBOX_WALL_SECONDS": "90"})
    assert (limits.cpu_seconds, limits.memory_bytes, limits.wall_seconds) == (
        7, 256 << 20, 90.0)
    assert limits.processes == Limits().processes
    with pytest.raises(SettingsError):
        Limits.from_env({"REGISTRY_SANDBOX_PROCESSES": "-1"})
    with pytest.raises(SettingsError):
        Sandbox.from_env({"REGISTRY_SANDBOX": "docker"})


def test_inspect_checks_the_contract_in_the_sandbox(sandbox: Sandbox) -> None:
    good = "def collect(ctx):\n    yield ('user', {'id': 1})\n"
    assert sandbox.inspect(good) == [
        {"text": "the script defines collect(ctx)", "severity": "info", "detail": []}]
    assert sandbox.inspect("def collect(ctx)\n    yield 1\n") == [
        {"text": "line 1: expected ':'", "severity": "error", "detail": ["def collect(ctx)"]}]
    assert [m["text"] for m in sandbox.inspect("def collect():\n    return []\n")] == [
        "collect must take one argument (ctx), not 0",
        "collect must be a generator: it yields (entity_type, record) pairs"]
    assert [m["text"] for m in sandbox.inspect("collect = 3\n")] == [
        "collect is not a function"]
    assert [m["text"] for m in sandbox.inspect("x = 1\n")] == [
        "the script defines no function collect(ctx)"]
    loading = sandbox.inspect("import socket\nsocket.create_connection(('10.0.0.1', 80))\n")
    assert loading[0]["severity"] == "error"
    assert loading[0]["text"].startswith("the script fails when loaded: OSError")
    endless = sandbox.inspect("while True:\n    pass\n",
                              limits=dataclasses.replace(LIMITS, wall_seconds=120))
    assert endless == [{"text": "the script used more than its CPU time limit (1 s) and was "
                                "stopped", "severity": "error", "detail": []}]
