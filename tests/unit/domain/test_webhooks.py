"""Webhook endpoint rules and the delivery state machine, without fixtures."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.common import Actor
from domain.webhooks.endpoint import (
    MAX_ATTEMPTS,
    Delivery,
    WebhookCreated,
    WebhookEndpoint,
    WebhookNotFoundError,
    WebhookValidationError,
    delivery_uuid,
    parse_webhook,
    retry_delay,
)

ACTOR = Actor(subject="admin-1", tenant="acme", email="admin@example.com")
NOW = datetime(2026, 1, 1, tzinfo=UTC)
GOOD = {"url": "https://hooks.example.com/in", "secret": "s" * 16,
        "eventTypes": ["schema.updated", "*", "schema.updated"]}


def test_a_valid_document_is_normalised() -> None:
    assert parse_webhook(GOOD) == ("https://hooks.example.com/in", "s" * 16,
                                   ["*", "schema.updated"])


@pytest.mark.parametrize(("change", "pointer"), [
    ({"url": "ftp://hooks.example.com"}, "/url"),
    ({"url": "https://"}, "/url"),
    ({"url": "https://a b/"}, "/url"),
    ({"url": 5}, "/url"),
    ({"secret": "s" * 15}, "/secret"),
    ({"secret": "s" * 257}, "/secret"),
    ({"eventTypes": []}, "/eventTypes"),
    ({"eventTypes": ["schema.renamed"]}, "/eventTypes/0"),
    ({"other": 1}, "/other"),
])
def test_each_broken_rule_names_its_pointer(change: dict[str, object], pointer: str) -> None:
    with pytest.raises(WebhookValidationError) as raised:
        parse_webhook(GOOD | change)
    assert [v.pointer for v in raised.value.violations] == [pointer]


def test_the_secret_is_in_the_created_event_only_and_a_delete_is_final() -> None:
    endpoint = WebhookEndpoint.create(ACTOR, uuid.uuid4(), GOOD)
    created = endpoint.collect_events()[0]
    assert isinstance(created, WebhookCreated) and created.secret == "s" * 16
    assert "s" * 16 not in repr(endpoint.state)
    endpoint.delete(ACTOR)
    assert endpoint.state.deleted and endpoint.state.version == 2
    with pytest.raises(WebhookNotFoundError):
        endpoint.delete(ACTOR)


def test_backoff_doubles_up_to_the_cap() -> None:
    delays = [retry_delay(n) for n in range(1, 12)]
    assert delays[:3] == [timedelta(seconds=10), timedelta(seconds=20), timedelta(seconds=40)]
    assert max(delays) == timedelta(hours=1) == delays[-1]


def test_a_delivery_retries_then_gives_up() -> None:
    endpoint = uuid.uuid4()
    delivery = Delivery.start(delivery_uuid(endpoint, uuid.uuid4(), 1), "acme", endpoint, NOW)
    assert (delivery.state.status, delivery.state.attempts) == ("sending", 1)
    for attempt in range(1, MAX_ATTEMPTS):
        delivery.failed("HTTP 503", NOW)
        assert delivery.state.status == "retrying"
        assert delivery.state.next_attempt_at == NOW + retry_delay(attempt)
        delivery.retry(NOW)
    delivery.failed("HTTP 503", NOW)
    assert (delivery.state.status, delivery.state.attempts) == ("failed", MAX_ATTEMPTS)
    assert delivery.state.next_attempt_at is None


def test_delivery_ids_are_stable_per_endpoint_resource_and_version() -> None:
    endpoint, resource = uuid.uuid4(), uuid.uuid4()
    assert delivery_uuid(endpoint, resource, 1) == delivery_uuid(endpoint, resource, 1)
    assert delivery_uuid(endpoint, resource, 1) != delivery_uuid(endpoint, resource, 2)
    assert delivery_uuid(endpoint, resource, 1) != delivery_uuid(uuid.uuid4(), resource, 1)


def test_a_delivery_is_due_only_outside_its_lease_and_backoff_and_until_done() -> None:
    endpoint = uuid.uuid4()
    delivery = Delivery.start(uuid.uuid4(), "acme", endpoint, NOW)
    assert not delivery.due(NOW + timedelta(seconds=59))  # the lease holds it
    assert delivery.due(NOW + timedelta(seconds=60))  # its process died: due again
    delivery.failed("HTTP 500", NOW)
    assert not delivery.due(NOW + timedelta(seconds=9)) and delivery.due(NOW + retry_delay(1))
    delivery.retry(NOW)
    delivery.succeeded()
    assert not delivery.due(NOW + timedelta(days=1))
    dropped = Delivery.start(uuid.uuid4(), "acme", endpoint, NOW)
    dropped.dropped("erased")
    assert not dropped.due(NOW + timedelta(days=1))
