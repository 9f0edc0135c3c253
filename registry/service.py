"""The registry as a whole: the application, its read-model queries, and a follower.

Commands are the application's methods (``registry.app``); this object builds things, answers
queries and keeps the read models (and whoever watches them) current with other processes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from projections.audit import AuditQueries
from projections.connectors import ConnectorQueries
from projections.credentials import CredentialQueries
from projections.feed import FeedQueries
from projections.runner import Follower, Progress
from projections.schemas import SchemaQueries
from projections.tokens import TokenQueries
from registry.application import SchemaRegistry
from registry.feed import ChangeSignal
from registry.health import DatabaseUnavailableError
from registry.records import RecordStore
from registry.settings import Settings, persistence_env
from registry.sync import SyncWorker, WorkerThread
from registry.webhooks import WebhookSender

log = logging.getLogger("registry")
Watcher = Callable[[], None]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Registry:
    """Application, read models and queries over one database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = SchemaRegistry(env=persistence_env(settings.database_url),
                                  oauth=settings.oauth)
        self.app.sandbox = settings.sandbox
        self.clock: Callable[[], datetime] = _utc_now
        """What time it is for commands that take ``now`` (tests set another clock)."""
        self.db = self.app.db
        self.projector = self.app.projector
        self.queries = SchemaQueries(self.db)
        self.connectors = ConnectorQueries(self.db)
        self.credentials: CredentialQueries = self.app.credentials
        self.tokens = TokenQueries(self.db)
        self.audit = AuditQueries(self.db)
        self.records = RecordStore(self.db)
        """The collected records of schemas (sealed; read by the records routes)."""
        self.feed = FeedQueries(self.db)
        self.webhooks = self.app.webhooks
        self.sender = WebhookSender(self.app, settings.connections, clock=lambda: self.clock())
        self.changes = ChangeSignal()
        """Wakes change-feed streams: after this process's saves and the follower's moves."""
        self.watchers: list[Watcher] = [self.changes.notify]
        self.app.listeners.append(self.changes.notify)
        self._follower: Follower | None = None
        self._workers: list[WorkerThread] = []
        self._sending: Follower | None = None
        self._seen = -1

    def rebuild(self, progress: Progress | None = None) -> int:
        """Rebuild every read model from the event store."""
        return self.projector.rebuild(progress)

    def start_following(self) -> None:
        """Catch up now, then keep following writes made by other processes."""
        self.follow()
        if self._follower is None:
            self._follower = Follower(self.tick, self.settings.follow_interval)
            self._follower.start()

    def start_working(self, count: int | None = None) -> None:
        """Start the sync workers (``Settings.sync_workers`` unless ``count`` is given) and
        the webhook sender."""
        for _ in range(self.settings.sync_workers if count is None else count):
            worker = SyncWorker(self.app, outbound=self.settings.connections)
            thread = WorkerThread(worker, self.settings.follow_interval)
            thread.start()
            self._workers.append(thread)
        if self._sending is None:
            self._sending = Follower(self._send_tick, self.settings.follow_interval)
            self._sending.start()

    def _send_tick(self) -> None:
        self.send_webhooks()

    def send_webhooks(self, now: datetime | None = None) -> int:
        """One pass of the webhook sender (what the worker thread runs every interval);
        nothing while the database is down."""
        try:
            return self.sender.run_once(now or self.clock())
        except DatabaseUnavailableError:
            return 0

    def tick(self) -> None:
        """One turn of the follower: catch up, expire the credentials now due, refresh the
        OAuth tokens about to expire, and requeue the sync jobs whose worker went silent."""
        self.follow()
        self.expire()
        self.refresh_oauth()
        self.reap()

    def reap(self, now: datetime | None = None) -> None:
        """Requeue (or fail) running sync jobs without a heartbeat; nothing while the
        database is down."""
        try:
            self.app.reap_syncs(now or self.clock())
        except DatabaseUnavailableError:
            return

    def expire(self, now: datetime | None = None) -> None:
        """Soft-delete every credential whose ``expiresAt`` has come (``Deleted (expired)``).

        Every follower runs it; two processes expiring one credential race on its version
        and the loser skips it. While the database is down this does nothing.
        """
        try:
            self.app.expire_credentials(now or self.clock())
        except DatabaseUnavailableError:
            return

    def refresh_oauth(self, now: datetime | None = None) -> None:
        """Refresh the OAuth tokens of every connector due within the refresh margin, and
        lapse the OAuth grants left unclaimed for ten minutes (destroying their keys).

        Two processes refreshing one connector race on its version and the loser skips it.
        While the database is down this does nothing.
        """
        try:
            self.app.refresh_oauth_tokens(now or self.clock())
            self.app.lapse_oauth_grants(now or self.clock())
        except DatabaseUnavailableError:
            return

    def follow(self) -> None:
        """Apply new events to the read models; tell the watchers when anything moved.

        While the database is down this does nothing: the outage is logged once, by
        :mod:`registry.health`, and the next tick tries again.
        """
        try:
            self.projector.catch_up()
        except DatabaseUnavailableError:
            return
        position = self.projector.position()
        if position != self._seen:
            self._seen = position
            for watcher in self.watchers:
                watcher()

    def lag(self) -> tuple[int, int]:
        """The last stored event's notification id, and how far the read models have applied."""
        head = self.app.recorder.max_notification_id() or 0
        return head, self.projector.position()

    def close(self) -> None:
        """Stop the workers (a running job is stopped with its sandbox, and requeued by the
        reaper), end the change streams, stop following and close the database connections."""
        self.changes.close()
        for worker in self._workers:
            worker.stop()
        self._workers = []
        if self._sending is not None:
            self._sending.stop()
            self._sending = None
        if self._follower is not None:
            self._follower.stop()
            self._follower = None
        self.db.close()
        self.app.close()
