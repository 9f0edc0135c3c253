"""Read model of API tokens (never their secrets, only the hashes) for authentication."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.common import iso_timestamp, parse_timestamp
from domain.tokens import ApiToken, TokenState
from projections.db import Cursor, Database, Row

COLUMNS = (
    "token_id", "tenant", "name", "app_id", "secret_hash", "created_at", "created_by",
    "last_used_at", "revoked_at", "revoked_by",
)


def _row(state: TokenState) -> tuple[Any, ...]:
    return (
        str(state.id), state.tenant, state.name, state.app_id, state.secret_hash,
        iso_timestamp(state.created_at), state.created_by, iso_timestamp(state.last_used_at),
        iso_timestamp(state.revoked_at), state.revoked_by,
    )


class TokenProjection:
    """Applies token events to ``registry_api_tokens``."""

    name = "api_tokens"
    version = 1
    tables: tuple[str, ...] = ("registry_api_tokens",)

    def create_tables(self, cur: Cursor) -> None:
        """Create the token table if it does not exist."""
        cur.execute(
            "CREATE TABLE IF NOT EXISTS registry_api_tokens ("
            " token_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, name TEXT NOT NULL,"
            " app_id TEXT NOT NULL, secret_hash TEXT NOT NULL, created_at TEXT NOT NULL,"
            " created_by TEXT, last_used_at TEXT, revoked_at TEXT, revoked_by TEXT)"
        )

    def apply(self, cur: Cursor, event: object) -> None:
        """Project one token event."""
        if not isinstance(event, ApiToken.Event):
            return
        row = cur.one(
            "SELECT * FROM registry_api_tokens WHERE token_id = %s", (str(event.originator_id),)
        )
        state = event.evolve(state_from_row(row) if row else TokenState(id=event.originator_id))
        updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
        cur.execute(
            f"INSERT INTO registry_api_tokens ({', '.join(COLUMNS)})"
            f" VALUES ({', '.join(['%s'] * len(COLUMNS))})"
            f" ON CONFLICT (token_id) DO UPDATE SET {updates}",
            _row(state),
        )


def state_from_row(row: Row) -> TokenState:
    """A token's state from its row."""
    return TokenState(
        id=UUID(row["token_id"]),
        tenant=row["tenant"],
        name=row["name"],
        app_id=row["app_id"],
        secret_hash=row["secret_hash"],
        created_at=parse_timestamp(row["created_at"]),
        created_by=row["created_by"],
        last_used_at=parse_timestamp(row["last_used_at"]),
        revoked_at=parse_timestamp(row["revoked_at"]),
        revoked_by=row["revoked_by"],
    )


class TokenQueries:
    """Reads of the token read model."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, token_id: UUID) -> TokenState | None:
        """A token by id, whatever its tenant (authentication looks it up before it knows)."""
        with self.db.read() as cur:
            row = cur.one(
                "SELECT * FROM registry_api_tokens WHERE token_id = %s", (str(token_id),)
            )
        return None if row is None else state_from_row(row)

    def all(self) -> list[TokenState]:
        """Every token of every tenant (what authentication keeps in memory)."""
        with self.db.read() as cur:
            return [state_from_row(row) for row in cur.all("SELECT * FROM registry_api_tokens")]

    def for_tenant(self, tenant: str) -> list[TokenState]:
        """Every token of a tenant, oldest first."""
        with self.db.read() as cur:
            rows = cur.all(
                "SELECT * FROM registry_api_tokens WHERE tenant = %s ORDER BY created_at, token_id",
                (tenant,),
            )
        return [state_from_row(row) for row in rows]

    def count(self) -> int:
        """How many tokens exist in all tenants."""
        with self.db.read() as cur:
            row = cur.one("SELECT COUNT(*) AS n FROM registry_api_tokens")
        return int(row["n"]) if row else 0
