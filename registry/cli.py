"""``registry``: serve the API, issue development tokens, rebuild read models."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from domain.common import Actor, iso_timestamp
from domain.errors import RegistryError
from domain.tokens import TokenState
from registry.auth import DEFAULT_TTL_SECONDS, issue_token
from registry.settings import Settings

if TYPE_CHECKING:
    from registry.service import Registry

DEV_TENANT = "default"
ADMIN_TOKEN_FILE = "admin-api-token"  # noqa: S105 - a file name


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
    from granian import Granian
    from granian.constants import Interfaces

    settings = settings.with_database_url(args.database_url)
    settings.jwt_settings()  # fail early on a bad key configuration
    first_token = _first_admin_token(settings)
    os.environ["REGISTRY_DATABASE_URL"] = settings.database_url
    os.environ["REGISTRY_DATA_DIR"] = str(settings.data_dir)
    base = f"http://{args.host}:{args.port}"
    print(f"Connector Schema Registry on {base}", file=sys.stderr)
    print(f"  database: {_redacted(settings.database_url)}", file=sys.stderr)
    if first_token is not None:
        print(f"  first start: an admin API token of tenant '{DEV_TENANT}' is in {first_token}",
              file=sys.stderr)
    token_file = settings.data_dir / ADMIN_TOKEN_FILE
    if token_file.exists():
        print("  try it:\n"
              f"    JWT=$({_command()} token --tenant {DEV_TENANT} --subject you --role admin)\n"
              f"    curl -H \"Authorization: Bearer $JWT\" -H \"X-API-Token: $(cat {token_file})\""
              f" {base}/internal/v1/connector/universal/schemas", file=sys.stderr)
    Granian(
        "api.app:app_from_env",
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI,
        workers=args.workers,
        factory=True,
    ).serve()
    return 0


def _command() -> str:
    """How this command was invoked (``.venv/bin/registry`` from the quick start)."""
    invoked = sys.argv[0] if sys.argv else ""
    return invoked if invoked.endswith("registry") else "registry"


def _first_admin_token(settings: Settings) -> Path | None:
    """On a fresh embedded database, issue a first admin API token into the data directory."""
    path = settings.data_dir / ADMIN_TOKEN_FILE
    if not settings.database_url.startswith("sqlite:") or path.exists():
        return None
    from registry.service import Registry

    registry = Registry(settings)
    try:
        if registry.tokens.count() > 0:
            return None
        actor = Actor(subject="registry-serve", tenant=DEV_TENANT)
        _, text = registry.app.issue_api_token(actor, "first admin token", "bootstrap")
        _audit(registry, actor, "serve: first admin API token", 201)
    finally:
        registry.close()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")
    return path


def _api_token(args: argparse.Namespace, settings: Settings) -> int:
    from registry.service import Registry

    registry = Registry(settings.with_database_url(args.database_url))
    actor = Actor(subject=f"cli:{getpass.getuser()}", tenant=args.tenant)
    try:
        if args.action == "create":
            state, text = registry.app.issue_api_token(actor, args.name, args.app_id)
            _audit(registry, actor, "api-token create", 201)
            print(f"issued API token {state.id} ({state.name!r}, appId {state.app_id!r}) "
                  f"for tenant {state.tenant!r}; it is shown only once:", file=sys.stderr)
            print(text)
        elif args.action == "list":
            for state in registry.tokens.for_tenant(args.tenant):
                print(json.dumps(_listed(state)))
        else:
            registry.app.revoke_api_token(actor, uuid.UUID(args.token_id))
            _audit(registry, actor, "api-token revoke", 204)
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


def _audit(registry: Registry, actor: Actor, action: str, status: int) -> None:
    """Command-line changes land in the audit trail like HTTP ones (method ``CLI``)."""
    registry.app.record_audit(
        tenant=actor.tenant, authenticated=True, subject=actor.subject, email=None,
        app_id=None, method="CLI", route=f"registry {action}",
        schema_id=None, status=status, outcome="success",
    )


def _redacted(url: str) -> str:
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"


def _token(args: argparse.Namespace, settings: Settings) -> int:
    if settings.uses_key_file:
        print("registry: this registry verifies bearer tokens with a public key or JWKS file; "
              "get tokens from your identity provider", file=sys.stderr)
        return 2
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
        if args.command == "api-token":
            return _api_token(args, settings)
        return _rebuild(args, settings)
    except ValueError as error:  # SettingsError, or a bad JWT key configuration
        print(f"registry: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
