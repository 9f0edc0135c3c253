"""ID generators, model documents and health: small read-only routes."""

from __future__ import annotations

import re
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.params import PathParameter

from api.auth import principal_of
from api.errors import QueryValidationError
from api.models import GeneratedId, GeneratedUuid, Health
from api.openapi import problems
from domain.errors import Violation
from domain.ids import encode_schema_id, schema_uuid
from domain.model import SLUG, model_documents

Req = Request[Any, Any, Any]
Connector = Annotated[str, PathParameter(description="Connector id", pattern=SLUG)]
Key = Annotated[
    str, PathParameter(description="Schema key (defaults to the entity type)", pattern=SLUG)
]
_SLUG = re.compile(SLUG.replace("$", r"\Z"))


def _checked(connector: str, key: str) -> tuple[str, str]:
    violations = [
        Violation(f"/path/{name}", f"must match {SLUG}")
        for name, value in (("connector", connector), ("id", key))
        if not _SLUG.match(value)
    ]
    if violations:
        raise QueryValidationError(violations)
    return connector, key


class GenerateController(Controller):
    """``/generate``: the ids a create would assign, computed before the schema exists."""

    path = "/generate"
    tags = ("generators",)

    @get("/schema-id/{connector:str}/{id:str}", responses=problems(401, 422))
    async def schema_id(self, request: Req, connector: Connector, id: Key) -> GeneratedId:
        """``sch_`` + Crockford base32 of the schema UUID."""
        tenant = principal_of(request).tenant
        connector, key = _checked(connector, id)
        return GeneratedId(encode_schema_id(schema_uuid(tenant, connector, key)), connector, key)

    @get("/schema-uuid/{connector:str}/{id:str}", responses=problems(401, 422))
    async def schema_uuid(self, request: Req, connector: Connector, id: Key) -> GeneratedUuid:
        """UUIDv5 of ``<tenant>/<connectorId>/<key>`` in the registry's namespace."""
        tenant = principal_of(request).tenant
        connector, key = _checked(connector, id)
        return GeneratedUuid(str(schema_uuid(tenant, connector, key)), connector, key)


class ModelController(Controller):
    """``/model/schemas``: the JSON Schema documents every request body is validated with."""

    path = "/model"
    tags = ("model",)

    @get("/schemas", responses=problems(401))
    async def model_schemas(self, request: Req) -> dict[str, Any]:
        """JSON Schema 2020-12 documents for Schema, Field, Relationship and FieldType."""
        principal_of(request)
        return {"schemas": model_documents()}


@get("/health", tags=["operations"], exclude_from_auth=True)
async def health() -> Health:
    """Liveness: answers without credentials."""
    return Health(status="ok")
