"""``registry``: serve the API, issue development tokens, rebuild read models."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from registry.auth import DEFAULT_TTL_SECONDS, issue_token
from registry.settings import Settings, SettingsError


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

    token = commands.add_parser("token", help="print a signed bearer token (JWT)")
    token.add_argument("--tenant", required=True)
    token.add_argument("--subject", required=True)
    token.add_argument("--email")
    token.add_argument("--role", action="append", default=[], dest="roles")
    token.add_argument(
        "--ttl", type=int, default=DEFAULT_TTL_SECONDS, help="seconds (default 3600)"
    )

    projections = commands.add_parser("projections", help="manage read models")
    actions = projections.add_subparsers(dest="action", required=True, metavar="ACTION")
    rebuild = actions.add_parser("rebuild", help="rebuild every read model from the event store")
    rebuild.add_argument("--database-url")
    return parser


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from granian import Granian
    from granian.constants import Interfaces

    settings = settings.with_database_url(args.database_url)
    settings.signing_secret(create=True)
    os.environ["REGISTRY_DATABASE_URL"] = settings.database_url
    os.environ["REGISTRY_DATA_DIR"] = str(settings.data_dir)
    print(f"Connector Schema Registry on http://{args.host}:{args.port}", file=sys.stderr)
    print(f"  database: {_redacted(settings.database_url)}", file=sys.stderr)
    print("  token:    registry token --tenant <tenant> --subject <you>", file=sys.stderr)
    Granian(
        "api.app:app_from_env",
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI,
        workers=args.workers,
        factory=True,
    ).serve()
    return 0


def _redacted(url: str) -> str:
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"


def _token(args: argparse.Namespace, settings: Settings) -> int:
    secret = settings.signing_secret(create=True)
    print(issue_token(secret, tenant=args.tenant, subject=args.subject, email=args.email,
                      roles=args.roles, ttl_seconds=args.ttl))
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
        return _rebuild(args, settings)
    except SettingsError as error:
        print(f"registry: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
