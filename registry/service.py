"""The registry as the API sees it: commands that answer only once the read models show them."""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any, TypeVar
from uuid import UUID

from domain.common import Actor
from domain.errors import NOT_FOUND, SchemaNotFoundError
from domain.schema import SchemaState
from domain.tokens import TokenState
from projections.audit import AuditProjection, AuditQueries
from projections.audit import create_tables as audit_tables
from projections.runner import Follower, Progress, Projection, Projector
from projections.schemas import TABLES, SchemaProjection, SchemaQueries
from projections.schemas import create_tables as schema_tables
from projections.tokens import TokenProjection, TokenQueries
from projections.tokens import create_tables as token_tables
from registry.application import SchemaRegistry, database_of
from registry.persistence import KEYS_TABLE
from registry.settings import Settings, persistence_env

log = logging.getLogger("registry")
T = TypeVar("T")


class Registry:
    """Application, read models and queries over one database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = SchemaRegistry(env=persistence_env(settings.database_url))
        self.db = database_of(self.app)
        for create in (schema_tables, token_tables, audit_tables):
            create(self.db)
        projections: list[Projection] = [SchemaProjection(), TokenProjection(), AuditProjection()]
        self.projector = Projector(
            self.db, self.app.recorder, self.app.mapper, projections, name="read_models"
        )
        self.projector.create_tables()
        self.queries = SchemaQueries(self.db)
        self.tokens = TokenQueries(self.db)
        self.audit = AuditQueries(self.db)
        self._follower: Follower | None = None

    # Commands: each answers after the read models have caught up (read-your-writes).

    def create_schema(self, actor: Actor, document: Any) -> SchemaState:
        """Create a schema."""
        return self._caught_up(self.app.create_schema(actor, document))

    def update_schema(
        self, actor: Actor, uuid: UUID, document: Any, if_match: Collection[int] | None
    ) -> tuple[SchemaState, bool]:
        """Replace a schema's content."""
        self._check_owner(actor, uuid)
        state, changed = self.app.update_schema(actor, uuid, document, if_match)
        return self._caught_up(state), changed

    def delete_schema(self, actor: Actor, connector_id: str, uuid: UUID) -> SchemaState:
        """Soft-delete a schema."""
        self._check_owner(actor, uuid)
        return self._caught_up(self.app.delete_schema(actor, connector_id, uuid))

    def restore_schema(self, actor: Actor, connector_id: str, uuid: UUID) -> SchemaState:
        """Restore a soft-deleted schema."""
        self._check_owner(actor, uuid)
        return self._caught_up(self.app.restore_schema(actor, connector_id, uuid))

    def erase_schema(self, actor: Actor, connector_id: str, uuid: UUID) -> SchemaState:
        """Erase a schema for good, then reclaim the space its content used."""
        self._check_owner(actor, uuid)
        state = self._caught_up(self.app.erase_schema(actor, connector_id, uuid))
        try:
            self.db.reclaim_space([*TABLES, KEYS_TABLE])
        except Exception:  # the erase is committed; the space is reclaimed by a later erase
            log.exception("could not reclaim space after erasing %s", state.schema_id)
        return state

    def issue_api_token(
        self, actor: Actor, name: str, app_id: str | None
    ) -> tuple[TokenState, str]:
        """Issue an API token; the secret text is returned once and never stored."""
        state, text = self.app.issue_api_token(actor, name, app_id)
        self._caught_up(state)
        return state, text

    def revoke_api_token(self, actor: Actor, token_id: UUID) -> TokenState:
        """Revoke an API token."""
        return self._caught_up(self.app.revoke_api_token(actor, token_id))

    def record_token_use(self, actor: Actor, token_id: UUID) -> None:
        """Note that a token was used."""
        self.app.record_token_use(actor, token_id)
        self._caught_up(None)

    def record_audit(self, **fields: Any) -> None:
        """Append an audit record, visible to the next read."""
        self.app.record_audit(**fields)
        self._caught_up(None)

    def _check_owner(self, actor: Actor, uuid: UUID) -> None:
        # Another tenant's id must cost what an unknown id costs: one indexed lookup, then
        # 404, without loading (and decrypting) that tenant's events. A schema's tenant never
        # changes, so the read model cannot be wrong about it; a row not there yet (lag) falls
        # through to the aggregate, which checks the tenant again.
        if self.queries.tenant_of(uuid) not in (None, actor.tenant):
            raise SchemaNotFoundError(NOT_FOUND)

    def _caught_up(self, state: T) -> T:
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
