"""``/internal/v1/webhooks``: admins register endpoints the tenant's changes are POSTed to.

The secret is write-only: accepted on create, kept only in the endpoint's encrypted event,
never answered. Each endpoint has a delivery log (``…/deliveries``): one row per change sent
(or to be sent), without its content.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, delete, get, post
from litestar.params import PathParameter

from api.access import ADMINS, allow
from api.models import Base, History, history_entry
from api.openapi import json_body_operation, problems
from api.params import INTERNAL, Caller, JsonBody, Limit
from api.runtime import read, run
from domain.common import iso_timestamp
from domain.webhooks.endpoint import (
    EVENT_TYPES,
    WebhookNotFoundError,
    WebhookState,
    decode_webhook_id,
)
from projections.feed import encode_cursor
from projections.webhooks import DeliveryRow

WEBHOOK_REQUEST = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url", "secret", "eventTypes"],
    "properties": {
        "url": {"type": "string", "format": "uri", "pattern": "^https?://[^\\s/]+",
                "maxLength": 2048, "description": "Where changes are POSTed (http or https)"},
        "secret": {"type": "string", "minLength": 16, "maxLength": 256, "writeOnly": True,
                   "description": "Signs every delivery (HMAC-SHA256); never answered"},
        "eventTypes": {"type": "array", "minItems": 1,
                       "items": {"enum": ["*", *EVENT_TYPES]},
                       "description": "Feed types to send; `*`: all"},
    },
}
WebhookBodyOperation = json_body_operation(WEBHOOK_REQUEST, "The endpoint to register")
WebhookId = Annotated[
    str,
    PathParameter(description="Webhook endpoint id (`whk_…` or its UUID); any other value is"
                  " an unknown endpoint (404)"),
]


class WebhookOut(Base):
    """A registered endpoint, without its secret."""

    id: str
    url: str
    event_types: list[str]
    version: int
    created_at: str | None
    created_by: str | None


class WebhookList(Base):
    """The tenant's endpoints."""

    webhooks: list[WebhookOut]


class DeliveryOut(Base):
    """One delivery: which change (its feed cursor), where it stands, never its content."""

    id: str
    cursor: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: str | None
    created_at: str
    updated_at: str
    delivered_at: str | None


class DeliveryList(Base):
    """An endpoint's delivery log, newest change first."""

    deliveries: list[DeliveryOut]


def webhook_out(state: WebhookState) -> WebhookOut:
    """An endpoint as the wire shows it."""
    return WebhookOut(id=state.webhook_id, url=state.url or "",
                      event_types=list(state.event_types), version=state.version,
                      created_at=iso_timestamp(state.created_at), created_by=state.created_by)


def delivery_out(row: DeliveryRow) -> DeliveryOut:
    """A delivery log row as the wire shows it."""
    return DeliveryOut(id=str(row.id), cursor=encode_cursor(row.position), status=row.status,
                       attempts=row.attempts, last_error=row.last_error,
                       next_attempt_at=row.next_attempt_at, created_at=row.created_at,
                       updated_at=row.updated_at, delivered_at=row.delivered_at)


def _uuid(text: str) -> UUID:
    uuid = decode_webhook_id(text)
    if uuid is None:
        raise WebhookNotFoundError("webhook endpoint not found")
    return uuid


class WebhookController(Controller):
    """Webhook endpoints of the caller's tenant (admins)."""

    path = f"{INTERNAL}/webhooks"
    tags = ("webhooks",)
    opt = allow(ADMINS)

    @post("/", responses=problems(400, 401, 403, 413, 415, 422),
          summary="Register a webhook endpoint", operation_class=WebhookBodyOperation)
    async def create(self, caller: Caller, document: JsonBody) -> Response[WebhookOut]:
        """Register an endpoint; changes committed from now on are sent to it."""
        state = await run(caller.registry.app.create_webhook, caller.access, document)
        return Response(webhook_out(state), status_code=201,
                        headers={"Location": f"{INTERNAL}/webhooks/{state.webhook_id}"})

    @get("/", responses=problems(401, 403), summary="List webhook endpoints")
    async def list_webhooks(self, caller: Caller) -> WebhookList:
        """The tenant's live endpoints, oldest first."""
        states = await read(caller.registry, caller.registry.webhooks.endpoints, caller.tenant)
        return WebhookList(webhooks=[webhook_out(s) for s in states])

    @get("/{id:str}", responses=problems(401, 403, 404), summary="Get a webhook endpoint")
    async def get_webhook(self, caller: Caller, id: WebhookId) -> WebhookOut:
        """One live endpoint, without its secret."""
        state = await read(caller.registry, caller.registry.webhooks.endpoint, caller.tenant,
                           _uuid(id))
        if state is None:
            raise WebhookNotFoundError("webhook endpoint not found")
        return webhook_out(state)

    @delete("/{id:str}", responses=problems(401, 403, 404),
            summary="Delete a webhook endpoint")
    async def delete_webhook(self, caller: Caller, id: WebhookId) -> None:
        """Stop sending to it; deliveries not yet sent are dropped."""
        await run(caller.registry.app.delete_webhook, caller.access, _uuid(id))

    @get("/{id:str}/history", responses=problems(401, 403, 404),
         summary="Webhook endpoint change history")
    async def history(self, caller: Caller, id: WebhookId) -> History:
        """Its revisions (created, deleted), newest first; readable after a delete."""
        revisions = await read(caller.registry, caller.registry.webhooks.history,
                               caller.tenant, _uuid(id))
        if not revisions:
            raise WebhookNotFoundError("webhook endpoint not found")
        return History(history=[history_entry(r) for r in revisions])

    @get("/{id:str}/deliveries", responses=problems(401, 403, 404, 422),
         summary="Read a webhook endpoint's delivery log")
    async def deliveries(self, caller: Caller, id: WebhookId, limit: Limit = 50) -> DeliveryList:
        """The newest ``limit`` deliveries: status, attempts, last error, timestamps."""
        uuid = _uuid(id)
        registry = caller.registry
        if await read(registry, registry.webhooks.endpoint, caller.tenant, uuid) is None:
            raise WebhookNotFoundError("webhook endpoint not found")
        rows = await read(registry, registry.webhooks.deliveries, caller.tenant, uuid, limit)
        return DeliveryList(deliveries=[delivery_out(r) for r in rows])
