"""Webhook commands, and the sender that empties the delivery outbox.

Endpoints are created and deleted by admins (one save each). The sender picks the due
deliveries from the outbox read model, records each attempt (``Started``: the optimistic
save only one process wins), POSTs the change signed the Standard Webhooks way, and records
the outcome; failures are retried with capped exponential backoff, and a restart loses
nothing (the outbox is rebuilt from the events, a started attempt whose process died is due
again when its lease ends).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import httpx
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from ulid import ULID

from domain.common import iso_timestamp
from domain.webhooks.endpoint import (
    Delivery,
    WebhookCreated,
    WebhookDeleted,
    WebhookEndpoint,
    WebhookNotFoundError,
    WebhookState,
    encode_webhook_id,
)
from projections.feed import FeedEntry, FeedQueries, encode_cursor
from projections.webhooks import DeliveryRow, WebhookQueries
from registry.connection.guard import TargetGuard
from registry.connection.http import http_client
from registry.settings import ConnectionSettings

if TYPE_CHECKING:
    from registry.connectors import Access

log = logging.getLogger("registry.webhooks")
NOT_FOUND = "webhook endpoint not found"
BATCH = 50
SEND_TIMEOUT_SECONDS = 10.0


class WebhookCommands:
    """Endpoint commands; mixed into the application, whose repository and save they use."""

    if TYPE_CHECKING:  # provided by the application this is mixed into
        repository: Any
        events: Any
        webhooks: WebhookQueries

        def _save(self, *aggregates: Any, **kwargs: Any) -> None: ...

    def create_webhook(self, access: Access, document: Any) -> WebhookState:
        """Register an endpoint (``whk_`` + ULID id)."""
        endpoint = WebhookEndpoint.create(access.actor, ULID().to_uuid(), document)
        self._save(endpoint)
        return endpoint.state

    def delete_webhook(self, access: Access, uuid: UUID) -> None:
        """Stop sending to an endpoint of the caller's tenant."""
        endpoint = self.webhook(access.actor.tenant, uuid)
        endpoint.delete(access.actor)
        self._save(endpoint)

    def webhook(self, tenant: str, uuid: UUID) -> WebhookEndpoint:
        """A live endpoint of the tenant; 404 for unknown, deleted and other tenants' ids."""
        if self.webhooks.tenant_of(uuid) != tenant:
            raise WebhookNotFoundError(NOT_FOUND)
        try:
            endpoint = self.repository.get(uuid)
        except AggregateNotFoundError:
            raise WebhookNotFoundError(NOT_FOUND) from None
        if not isinstance(endpoint, WebhookEndpoint) or endpoint.state.deleted:
            raise WebhookNotFoundError(NOT_FOUND)
        return endpoint

    def webhook_secret(self, uuid: UUID) -> str | None:
        """The secret of a live endpoint, decrypted from its events (the only place it is);
        ``None`` once deleted. For signing only: never shown or logged."""
        secret: str | None = None
        for event in self.events.get(uuid):
            if isinstance(event, WebhookCreated):
                secret = event.secret
            elif isinstance(event, WebhookDeleted):
                secret = None
        return secret


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """The ``Webhook-Signature`` value: ``v1,`` + base64 HMAC-SHA256, keyed with the secret's
    UTF-8 bytes, of ``{id}.{timestamp}.{body}`` (Standard Webhooks)."""
    digest = hmac.new(secret.encode(), f"{message_id}.{timestamp}.{body}".encode(),
                      hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def payload(delivery: DeliveryRow, webhook_id: str, entry: FeedEntry, cursor: str) -> str:
    """The JSON body: the feed entry, with the delivery and endpoint ids."""
    return json.dumps({
        "deliveryId": str(delivery.id), "webhookId": webhook_id,
        "event": {"cursor": cursor, "type": entry.type, "resourceId": entry.resource_id,
                  "version": entry.version, "changedAt": entry.changed_at,
                  "changedBy": entry.changed_by, "changes": entry.changes},
    }, separators=(",", ":"))


def _utc_now() -> datetime:
    return datetime.now(UTC)


class WebhookSender:
    """Sends the due deliveries; :meth:`run_once` is one pass (the worker loop calls it)."""

    def __init__(self, app: Any, outbound: ConnectionSettings,
                 clock: Callable[[], datetime] = _utc_now) -> None:
        self.app = app
        self.queries = WebhookQueries(app.db)
        self.feed = FeedQueries(app.db)
        self.outbound = outbound
        self.clock = clock

    def run_once(self, now: datetime | None = None) -> int:
        """Attempt every delivery due at ``now``; answers how many were attempted."""
        now = now or self.clock()
        return self.attempt(self.queries.due(now, BATCH), now)

    def attempt(self, due: list[DeliveryRow], now: datetime) -> int:
        """Attempt these outbox rows (as read a moment ago: a row another process has
        started or finished since is skipped); answers how many were attempted."""
        if not due:
            return 0
        guard = TargetGuard(allow_private=self.outbound.allow_private_targets)
        with http_client(guard, SEND_TIMEOUT_SECONDS,
                         str(self.outbound.ca_file) if self.outbound.ca_file else None) as client:
            return sum(self._attempt(client, row, now) for row in due)

    def _attempt(self, client: httpx.Client, row: DeliveryRow, now: datetime) -> bool:
        delivery = self._start(row, now)
        if delivery is None:
            return False  # another process holds it
        entry = self.feed.entry(row.tenant, row.resource, row.version)
        secret = self.app.webhook_secret(row.endpoint)
        endpoint = self.queries.endpoint(row.tenant, row.endpoint)
        if entry is None or secret is None or endpoint is None or endpoint.url is None:
            delivery.dropped("erased" if entry is None else "endpoint deleted")
        else:
            self._send(client, delivery, row, endpoint, entry, secret, now)
        try:
            self.app.save(delivery)
        except IntegrityError:
            log.warning("delivery %s: outcome not recorded (a concurrent write)", row.id)
        return True

    def _start(self, row: DeliveryRow, now: datetime) -> Delivery | None:
        try:
            delivery: Delivery = self.app.repository.get(row.id)
        except AggregateNotFoundError:
            delivery = Delivery.start(row.id, row.tenant, row.endpoint, now)
        else:
            if not delivery.due(now):
                return None  # another process started or finished it since the row was read
            delivery.retry(now)
        try:
            self.app.save(delivery)
        except IntegrityError:
            return None
        return delivery

    def _send(self, client: httpx.Client, delivery: Delivery, row: DeliveryRow,
              endpoint: WebhookState, entry: FeedEntry, secret: str, now: datetime) -> None:
        assert endpoint.url is not None
        body = payload(row, encode_webhook_id(row.endpoint), entry, encode_cursor(row.position))
        timestamp = int(now.timestamp())
        headers = {"Content-Type": "application/json", "Webhook-Id": str(row.id),
                   "Webhook-Timestamp": str(timestamp),
                   "Webhook-Signature": sign(secret, str(row.id), timestamp, body)}
        try:
            response = client.post(endpoint.url, content=body.encode(), headers=headers)
        except Exception as error:  # any failure to reach it is a failed attempt
            delivery.failed(f"{type(error).__name__}: {error}", now)
            return
        if 200 <= response.status_code < 300:
            delivery.succeeded()
        else:
            delivery.failed(f"HTTP {response.status_code}", now)
        log.info("delivery %s attempt %d at %s: %s", row.id, delivery.state.attempts,
                 iso_timestamp(now), delivery.state.status)
