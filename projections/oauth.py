"""The pending OAuth grants: which flows still hold a verifier or tokens, and until when.

A row exists from a grant's start until its claim or lapse; the registry's tick lapses the
rows whose time is up (destroying their keys), so no unclaimed token outlives its ten minutes
by more than a tick. A rebuild reads the claimed and lapsed grants' starts redacted (their
keys are gone) and adds nothing for them: the same rows as live.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from domain.common import iso_timestamp
from domain.oauth.grant import Claimed, Lapsed, Started
from projections.db import Cursor, Database

GRANTS = "registry_oauth_grants"


class OAuthGrantProjection:
    """Applies grant events to the pending-grants table."""

    name = "oauth_grants"
    version = 1
    tables: tuple[str, ...] = (GRANTS,)

    def create_tables(self, cur: Cursor) -> None:
        cur.execute(f"CREATE TABLE IF NOT EXISTS {GRANTS} ("
                    " uuid TEXT PRIMARY KEY, expires_at TEXT NOT NULL)")
        cur.execute(f"CREATE INDEX IF NOT EXISTS {GRANTS}_by_expiry ON {GRANTS} (expires_at)")

    def apply(self, cur: Cursor, event: object) -> None:
        if isinstance(event, Started):
            cur.execute(f"INSERT INTO {GRANTS} (uuid, expires_at) VALUES (%s, %s)"
                        " ON CONFLICT (uuid) DO NOTHING",
                        (str(event.originator_id), event.expires_at))
        elif isinstance(event, Claimed | Lapsed):
            cur.execute(f"DELETE FROM {GRANTS} WHERE uuid = %s", (str(event.originator_id),))


class OAuthGrantQueries:
    """Reads of the pending grants."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def lapsing(self, now: datetime) -> list[UUID]:
        """The pending grants whose ten minutes are up at ``now``."""
        with self.db.read() as cur:
            rows = cur.all(f"SELECT uuid FROM {GRANTS} WHERE expires_at <= %s ORDER BY uuid",
                           (iso_timestamp(now),))
        return [UUID(row["uuid"]) for row in rows]

    def pending(self) -> int:
        """How many grants are pending."""
        row = self.db.one(f"SELECT COUNT(*) AS n FROM {GRANTS}")
        return int(row["n"]) if row else 0
