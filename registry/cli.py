"""``registry``: serve the API, issue development tokens, rebuild read models."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import signal
import sys
import threading
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from domain.common import Actor, iso_timestamp
from domain.errors import RegistryError
from domain.tokens import TokenState
from registry.auth import DEFAULT_TTL_SECONDS, ROLES, issue_token
from registry.database_url import redacted
from registry.settings import Settings
from registry.startup import StartupError, check_serve, signing_secret_for_tokens

if TYPE_CHECKING:
    from registry.first_token import AdminTokenFile

DEV_TENANT = "default"
"""The tenant of the first admin API token (``registry.first_token``, imported lazily)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="registry", description="Connector Schema Registry: an event-sourced schema store."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    serve.add_argument("--database-url", help="sqlite:///file.db or postgresql://… "
                       "(default: REGISTRY_DATABASE_URL, else a SQLite file in the data dir)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")

    worker = commands.add_parser("worker", help="run sync workers: they run the collector "
                                 "scripts of queued sync jobs (serve runs one itself)")
    worker.add_argument("--threads", type=int, default=1, help="workers (default 1)")
    worker.add_argument("--once", action="store_true",
                        help="run the jobs queued now, one after the other, then exit")
    worker.add_argument("--database-url", help="as for serve")

    token = commands.add_parser("token", help="print a signed bearer token (JWT)")
    token.add_argument("--tenant", required=True)
    token.add_argument("--subject", required=True)
    token.add_argument("--email")
    token.add_argument("--role", nargs="+", action="extend", default=[], dest="roles",
                       metavar="ROLE", help=f"one or more of {', '.join(ROLES)}; repeatable")
    token.add_argument(
        "--ttl", type=int, default=DEFAULT_TTL_SECONDS, help="seconds (default 3600)"
    )

    api_token = commands.add_parser("api-token", help="issue, list and revoke API tokens")
    token_actions = api_token.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = token_actions.add_parser("create", help="issue a token (alone on the last line)")
    create.add_argument("--tenant", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--app-id", help="application id stamped on events (default: token id)")
    listing = token_actions.add_parser("list", help="list a tenant's tokens (never secrets)")
    listing.add_argument("--tenant", required=True)
    revoke = token_actions.add_parser("revoke", help="revoke a token")
    revoke.add_argument("--tenant", required=True)
    revoke.add_argument("token_id")
    for sub in (create, listing, revoke):
        sub.add_argument("--database-url")

    projections = commands.add_parser("projections", help="manage read models")
    actions = projections.add_subparsers(dest="action", required=True, metavar="ACTION")
    rebuild = actions.add_parser("rebuild", help="rebuild every read model from the event store")
    rebuild.add_argument("--database-url")
    return parser


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    settings = settings.with_database_url(args.database_url)
    check_serve(settings, args.host, args.port, args.workers)
    from registry.first_token import first_admin_token

    token_file = first_admin_token(settings)
    os.environ["REGISTRY_DATABASE_URL"] = settings.database_url
    os.environ["REGISTRY_DATA_DIR"] = str(settings.data_dir)
    _banner(settings, f"http://{args.host}:{args.port}", token_file)
    _run_granian(args.host, args.port, args.workers)
    return 0


def _banner(settings: Settings, base: str, token_file: AdminTokenFile | None) -> None:
    """What is served, and a curl that works: only with a token file of this database."""
    print(f"Connector Schema Registry on {base}", file=sys.stderr)
    print(f"  database: {redacted(settings.database_url)}", file=sys.stderr)
    if token_file is None:
        print(f"  API tokens: {_command()} api-token create --tenant T --name N",
              file=sys.stderr)
        return
    if token_file.issued_now:
        print(f"  first start: an admin API token of tenant '{DEV_TENANT}' is in "
              f"{token_file.path}", file=sys.stderr)
    print("  try it:\n"
          f"    JWT=$({_command()} token --tenant {DEV_TENANT} --subject you --role admin)\n"
          f"    curl -H \"Authorization: Bearer $JWT\" -H \"X-API-Token: $(cat {token_file.path})\""
          f" {base}/internal/v1/connector/universal/schemas", file=sys.stderr)


def _run_granian(host: str, port: int, workers: int) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        "api.app:app_from_env",
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        factory=True,
    ).serve()


def _command() -> str:
    """How this command was invoked (``.venv/bin/registry`` from the quick start)."""
    invoked = sys.argv[0] if sys.argv else ""
    return invoked if invoked.endswith("registry") else "registry"


def _api_token(args: argparse.Namespace, settings: Settings) -> int:
    from registry.cli_audit import record_cli_change
    from registry.service import Registry

    registry = Registry(settings.with_database_url(args.database_url))
    actor = Actor(subject=f"cli:{getpass.getuser()}", tenant=args.tenant)
    try:
        if args.action == "create":
            state, text = registry.app.issue_api_token(actor, args.name, args.app_id)
            record_cli_change(registry, actor, "api-token create", 201)
            print(f"issued API token {state.id} ({state.name!r}, appId {state.app_id!r}) "
                  f"for tenant {state.tenant!r}; it is shown only once:", file=sys.stderr)
            print(text)
        elif args.action == "list":
            for state in registry.tokens.for_tenant(args.tenant):
                print(json.dumps(_listed(state)))
        else:
            registry.app.revoke_api_token(actor, uuid.UUID(args.token_id))
            record_cli_change(registry, actor, "api-token revoke", 204)
            print(f"revoked API token {args.token_id}", file=sys.stderr)
    except (RegistryError, ValueError) as error:
        print(f"registry: {error}", file=sys.stderr)
        return 1
    finally:
        registry.close()
    return 0


def _listed(state: TokenState) -> dict[str, str | None]:
    """A token as ``api-token list`` prints it: never the secret or its hash."""
    return {
        "id": str(state.id), "name": state.name, "appId": state.app_id, "tenant": state.tenant,
        "createdAt": iso_timestamp(state.created_at), "createdBy": state.created_by,
        "lastUsedAt": iso_timestamp(state.last_used_at),
        "revokedAt": iso_timestamp(state.revoked_at), "revokedBy": state.revoked_by,
    }


def _token(args: argparse.Namespace, settings: Settings) -> int:
    unknown = sorted(set(args.roles) - set(ROLES))
    if unknown:
        raise StartupError(f"unknown role {', '.join(map(repr, unknown))}: "
                           f"use {', '.join(ROLES)}")
    if args.ttl <= 0:
        raise StartupError(f"--ttl {args.ttl}: a token must live at least 1 second")
    secret = signing_secret_for_tokens(settings)
    print(issue_token(secret, tenant=args.tenant, subject=args.subject, email=args.email,
                      roles=args.roles, ttl_seconds=args.ttl))
    return 0


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from registry.service import Registry
    from registry.sync import SyncWorker, run_until_idle

    if args.threads < 1:
        raise StartupError(f"--threads {args.threads}: at least 1")
    registry = Registry(settings.with_database_url(args.database_url))
    try:
        why = registry.app.sandbox.check()
        if why is not None and not registry.app.sandbox.unsandboxed:
            print(f"registry worker: collector scripts cannot run here: {why}", file=sys.stderr)
        if args.once:
            worker = SyncWorker(registry.app, outbound=settings.connections)
            for state in run_until_idle(worker):
                print(json.dumps({"jobId": state.job_id, "status": state.status,
                                  "error": state.error}))
            return 0
        stop = threading.Event()
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, lambda *_: stop.set())
        registry.start_following()
        registry.start_working(args.threads)
        print(f"registry worker: {args.threads} sync worker(s) running; Ctrl-C stops them",
              file=sys.stderr)
        stop.wait()
    finally:
        registry.close()
    return 0


def _rebuild(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from registry.service import Registry

    registry = Registry(settings.with_database_url(args.database_url))
    try:
        total = registry.app.recorder.max_notification_id() or 0
        with tqdm(total=total, unit="event", desc="rebuilding read models") as bar:
            def progress(position: int, _: int) -> None:
                bar.update(position - bar.n)

            position = registry.rebuild(progress)
            bar.update(position - bar.n)
    finally:
        registry.close()
    print(f"read models rebuilt up to event {position}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``registry`` command."""
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        if args.command == "serve":
            return _serve(args, settings)
        if args.command == "token":
            return _token(args, settings)
        if args.command == "api-token":
            return _api_token(args, settings)
        if args.command == "worker":
            return _worker(args, settings)
        return _rebuild(args, settings)
    except (ValueError, StartupError) as error:  # settings, keys, data dir, database, address
        print(f"registry: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
