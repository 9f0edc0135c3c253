"""The registry as the API sees it: commands that answer only once the read models show them."""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any
from uuid import UUID

from domain.schema import Actor, SchemaState
from projections.runner import Follower, Progress, Projector
from projections.schemas import TABLES, SchemaProjection, SchemaQueries, create_tables
from registry.application import SchemaRegistry, database_of
from registry.persistence import KEYS_TABLE
from registry.settings import Settings, persistence_env

log = logging.getLogger("registry")


class Registry:
    """Application, read models and queries over one database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = SchemaRegistry(env=persistence_env(settings.database_url))
        self.db = database_of(self.app)
        create_tables(self.db)
        self.projector = Projector(
            self.db, self.app.recorder, self.app.mapper, [SchemaProjection()], name="schemas"
        )
        self.projector.create_tables()
        self.queries = SchemaQueries(self.db)
        self._follower: Follower | None = None

    # Commands: each answers after the read models have caught up (read-your-writes).

    def create_schema(self, actor: Actor, document: Any) -> SchemaState:
        """Create a schema."""
        return self._caught_up(self.app.create_schema(actor, document))

    def update_schema(
        self, actor: Actor, uuid: UUID, document: Any, if_match: Collection[int] | None
    ) -> tuple[SchemaState, bool]:
        """Replace a schema's content."""
        state, changed = self.app.update_schema(actor, uuid, document, if_match)
        return self._caught_up(state), changed

    def delete_schema(self, actor: Actor, connector_id: str, uuid: UUID) -> SchemaState:
        """Soft-delete a schema."""
        return self._caught_up(self.app.delete_schema(actor, connector_id, uuid))

    def restore_schema(self, actor: Actor, connector_id: str, uuid: UUID) -> SchemaState:
        """Restore a soft-deleted schema."""
        return self._caught_up(self.app.restore_schema(actor, connector_id, uuid))

    def erase_schema(self, actor: Actor, connector_id: str, uuid: UUID) -> SchemaState:
        """Erase a schema for good, then reclaim the space its content used."""
        state = self._caught_up(self.app.erase_schema(actor, connector_id, uuid))
        try:
            self.db.reclaim_space([*TABLES, KEYS_TABLE])
        except Exception:  # the erase is committed; the space is reclaimed by a later erase
            log.exception("could not reclaim space after erasing %s", state.schema_id)
        return state

    def _caught_up(self, state: SchemaState) -> SchemaState:
        # The events are committed: a failing catch-up must not turn that into an error.
        # The follower (and the next write) retries it.
        try:
            self.projector.catch_up()
        except Exception:
            log.exception("read models could not catch up after a write; will retry")
        return state

    # Operations.

    def rebuild(self, progress: Progress | None = None) -> int:
        """Rebuild every read model from the event store."""
        return self.projector.rebuild(progress)

    def start_following(self) -> None:
        """Catch up now, then keep following writes made by other processes."""
        self.projector.catch_up()
        if self._follower is None:
            self._follower = Follower(self.projector, self.settings.follow_interval)
            self._follower.start()

    def close(self) -> None:
        """Stop following and close the database connections."""
        if self._follower is not None:
            self._follower.stop()
            self._follower = None
        self.app.close()
