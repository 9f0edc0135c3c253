"""Webhook endpoints and their deliveries: event-sourced aggregates.

An endpoint (``whk_`` id) is where an admin wants the tenant's changes POSTed: its URL, its
secret and the feed types it wants. Its events are shredded (encrypted with its own data key),
so the secret is in the event store only encrypted, and never in a state, read model or text.

A delivery is one change sent to one endpoint. Its id is derived from both, so every process
names it alike; each attempt is recorded before the POST (``Started``, a lease: only one
process wins the save) and its outcome after it, so the delivery log is rebuilt from events.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.common import (
    Actor,
    Redacted,
    RevisionEvent,
    RevisionState,
    record_revision,
    revision_meta,
)
from domain.errors import RegistryError, Violation
from domain.ids import decode_prefixed, encode_prefixed

WEBHOOK_PREFIX = "whk_"
KINDS = ("schema", "connector")
VERBS = ("created", "updated", "deleted", "restored", "erased")
EVENT_TYPES = tuple(f"{kind}.{verb}" for kind in KINDS for verb in VERBS)
"""The feed types an endpoint may ask for (``eventTypes``); ``*`` asks for all."""
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=10)
RETRY_CAP = timedelta(hours=1)
LEASE = timedelta(seconds=60)
"""How long a started attempt holds its delivery: after it another process may try again."""
_DELIVERIES = uuid.UUID("0f5f1c56-8a59-4a53-9b7e-5d0d3a9e0c11")


class WebhookValidationError(RegistryError):
    """A webhook document breaks the rules."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__("; ".join(f"{v.pointer or '/'}: {v.message}" for v in violations))


class WebhookNotFoundError(RegistryError):
    """No webhook endpoint with that id exists for the caller's tenant (or it was deleted)."""


def encode_webhook_id(value: UUID) -> str:
    """``whk_`` + Crockford base32 of the UUID."""
    return encode_prefixed(WEBHOOK_PREFIX, value)


def decode_webhook_id(text: str) -> UUID | None:
    """The UUID of a ``whk_`` id (or of a UUID string); ``None`` for anything else."""
    return decode_prefixed(WEBHOOK_PREFIX, text)


def delivery_uuid(endpoint: UUID, resource: UUID, version: int) -> UUID:
    """The one id of the delivery of one revision of a resource to one endpoint."""
    return uuid.uuid5(_DELIVERIES, f"{endpoint}:{resource}:{version}")


def retry_delay(attempt: int) -> timedelta:
    """Exponential backoff after failed attempt ``attempt`` (1, 2, …), capped."""
    delay: timedelta = FIRST_RETRY * (2 ** (attempt - 1))
    return min(delay, RETRY_CAP)


@dataclass(frozen=True)
class WebhookState(RevisionState):
    """An endpoint after some revision: never its secret."""

    url: str | None = None
    event_types: tuple[str, ...] = ()

    @property
    def exists(self) -> bool:
        """True once created."""
        return self.url is not None

    @property
    def webhook_id(self) -> str:
        """The public ``whk_`` id."""
        return encode_webhook_id(self.id)

    def wants(self, feed_type: str) -> bool:
        """Whether a change of this feed type is sent here."""
        return "*" in self.event_types or feed_type in self.event_types


class WebhookEvent(RevisionEvent):
    """Base of the endpoint's events (shredded with its data key)."""

    def text(self) -> str:
        """The change text history shows."""
        return type(self).__name__


class WebhookCreated(WebhookEvent, Aggregate.Created):
    """Registered: the secret lives only in this (encrypted) event."""

    url: str
    event_types: list[str]
    secret: str

    def change(self, state: WebhookState) -> WebhookState:
        return dataclasses.replace(state, url=self.url, event_types=tuple(self.event_types),
                                   created_at=self.timestamp,
                                   created_by=self.actor_email or self.actor_subject)

    def text(self) -> str:
        return "Initial creation"


class WebhookDeleted(WebhookEvent):
    """Removed: nothing more is sent to it."""

    def change(self, state: WebhookState) -> WebhookState:
        return dataclasses.replace(state, deleted=True, deleted_at=self.timestamp,
                                   deleted_by=self.actor_email or self.actor_subject)

    def text(self) -> str:
        return "Deleted"


class WebhookRedacted(Redacted):
    """An endpoint event whose key is gone."""


class WebhookEndpoint(Aggregate):
    """An admin's webhook endpoint."""

    def __init__(self) -> None:
        self.state = WebhookState(id=self.id)

    @classmethod
    def create(cls, actor: Actor, webhook_uuid: UUID, document: Any) -> WebhookEndpoint:
        """Register an endpoint from ``{url, secret, eventTypes}``."""
        url, secret, types = parse_webhook(document)
        endpoint: WebhookEndpoint = cls._create(
            WebhookCreated, id=webhook_uuid, **revision_meta(actor, 1), url=url,
            event_types=types, secret=secret)
        return endpoint

    def delete(self, actor: Actor) -> None:
        """Stop sending to it."""
        if self.state.deleted:
            raise WebhookNotFoundError("webhook endpoint not found")
        record_revision(self, actor, [(WebhookDeleted, {})])


WebhookRedacted.restores = (WebhookEndpoint, WebhookState)
WebhookEvent.redacted_class = WebhookRedacted


def parse_webhook(document: Any) -> tuple[str, str, list[str]]:
    """``url`` (http or https, a host), ``secret`` (16 to 256 characters) and ``eventTypes``
    (known types or ``*``, at least one): 422 with one violation per problem."""
    if not isinstance(document, Mapping):
        raise WebhookValidationError([Violation("", "must be an object")])
    violations = [Violation(f"/{key}", "unknown property") for key in document
                  if key not in ("url", "secret", "eventTypes")]
    url, secret, types = document.get("url"), document.get("secret"), document.get("eventTypes")
    if not isinstance(url, str) or not _is_http_url(url):
        violations.append(Violation("/url", "must be an http or https URL with a host"))
    if not isinstance(secret, str) or not 16 <= len(secret) <= 256:
        violations.append(Violation("/secret", "must be a string of 16 to 256 characters"))
    if not isinstance(types, list) or not types:
        violations.append(Violation("/eventTypes", "must be a non-empty list"))
    else:
        violations += [Violation(f"/eventTypes/{i}", f"not one of *, {', '.join(EVENT_TYPES)}")
                       for i, t in enumerate(types) if t != "*" and t not in EVENT_TYPES]
    if violations:
        raise WebhookValidationError(violations)
    assert isinstance(url, str) and isinstance(secret, str) and isinstance(types, list)
    return url, secret, sorted(set(types))


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        return False
    return (parts.scheme in ("http", "https") and bool(parts.hostname) and port_ok
            and len(url) <= 2048 and url.isprintable() and " " not in url)


@dataclass(frozen=True)
class DeliveryState:
    """Where a delivery stands: attempts so far, the outcome, when to try next."""

    id: UUID
    tenant: str = ""
    endpoint: UUID | None = None
    status: str = "pending"
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None


class DeliveryEvent(Aggregate.Event):
    """Base of delivery events: plain (they hold no content, only outcomes)."""

    tenant: str

    def apply(self, aggregate: Any) -> None:
        aggregate.state = self.evolve(aggregate.state)

    def evolve(self, state: DeliveryState) -> DeliveryState:
        """The state after this event."""
        return state


class DeliveryStarted(DeliveryEvent):
    """An attempt began; it holds the delivery until ``lease_until``."""

    endpoint: UUID
    attempt: int
    lease_until: datetime

    def evolve(self, state: DeliveryState) -> DeliveryState:
        return dataclasses.replace(state, tenant=self.tenant, endpoint=self.endpoint,
                                   status="sending", attempts=self.attempt,
                                   next_attempt_at=self.lease_until)


class DeliveryCreated(DeliveryStarted, Aggregate.Created):
    """The first attempt began (it creates the delivery)."""


class DeliverySucceeded(DeliveryEvent):
    """The endpoint answered 2xx."""

    def evolve(self, state: DeliveryState) -> DeliveryState:
        return dataclasses.replace(state, status="delivered", last_error=None,
                                   next_attempt_at=None, delivered_at=self.timestamp)


class DeliveryFailed(DeliveryEvent):
    """The attempt failed; ``retry_at`` ``None``: no more attempts."""

    error: str
    retry_at: datetime | None

    def evolve(self, state: DeliveryState) -> DeliveryState:
        return dataclasses.replace(state, status="retrying" if self.retry_at else "failed",
                                   last_error=self.error, next_attempt_at=self.retry_at)


class DeliveryDropped(DeliveryEvent):
    """Not sent: the change was erased, or the endpoint deleted, before it went out."""

    reason: str

    def evolve(self, state: DeliveryState) -> DeliveryState:
        return dataclasses.replace(state, status="dropped", last_error=self.reason,
                                   next_attempt_at=None)


class Delivery(Aggregate):
    """One change to one endpoint, attempt by attempt."""

    def __init__(self) -> None:
        self.state = DeliveryState(id=self.id)

    @classmethod
    def start(cls, delivery_id: UUID, tenant: str, endpoint: UUID, now: datetime) -> Delivery:
        """The first attempt."""
        delivery: Delivery = cls._create(DeliveryCreated, id=delivery_id, tenant=tenant,
                                         endpoint=endpoint, attempt=1, lease_until=now + LEASE)
        return delivery

    def due(self, now: datetime) -> bool:
        """Whether an attempt may start now: not finished, and not held by a live lease or
        waiting for its backoff (a process that read a stale outbox row skips it)."""
        if self.state.status in ("delivered", "failed", "dropped"):
            return False
        return self.state.next_attempt_at is None or self.state.next_attempt_at <= now

    def retry(self, now: datetime) -> None:
        """A further attempt."""
        self.trigger_event(DeliveryStarted, tenant=self.state.tenant,
                           endpoint=self.state.endpoint, attempt=self.state.attempts + 1,
                           lease_until=now + LEASE)

    def succeeded(self) -> None:
        """The endpoint took it."""
        self.trigger_event(DeliverySucceeded, tenant=self.state.tenant)

    def failed(self, error: str, now: datetime) -> None:
        """The attempt failed: retry with backoff, or give up after :data:`MAX_ATTEMPTS`."""
        attempt = self.state.attempts
        retry_at = now + retry_delay(attempt) if attempt < MAX_ATTEMPTS else None
        self.trigger_event(DeliveryFailed, tenant=self.state.tenant, error=error[:500],
                           retry_at=retry_at)

    def dropped(self, reason: str) -> None:
        """It will never be sent."""
        self.trigger_event(DeliveryDropped, tenant=self.state.tenant, reason=reason)


