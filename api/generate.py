"""ID generators, model documents and health: small read-only routes."""

from __future__ import annotations

import re
from typing import Any

from litestar import Controller, get

from api.access import READERS, allow
from api.models import GeneratedId, GeneratedUuid, Health
from api.openapi import problems
from api.params import Caller, Key, Slug
from api.problems import invalid_parameters
from domain.connectors.ids import canonical_connector_id
from domain.errors import Violation
from domain.ids import encode_schema_id, schema_uuid
from domain.model import SLUG, model_documents

_SLUG = re.compile(SLUG.replace("$", r"\Z"))


def _checked(connector: str, key: str) -> tuple[str, str]:
    violations = [
        Violation(f"/path/{name}", f"must match {SLUG}")
        for name, value in (("connector", connector), ("id", key))
        if not _SLUG.match(value)
    ]
    if violations:
        raise invalid_parameters(violations)
    return canonical_connector_id(connector), key


class GenerateController(Controller):
    """``/generate``: the ids a create would assign, computed before the schema exists.

    Offline: the connector need not exist yet. A connector id in its UUID form is read as
    its ``cnn_`` form, as a create does, so both forms give the same schema id.
    """

    path = "/generate"
    tags = ("generators",)
    opt = allow(READERS)

    @get("/schema-id/{connector:str}/{id:str}", responses=problems(401, 403, 422))
    async def schema_id(self, caller: Caller, connector: Slug, id: Key) -> GeneratedId:
        """``sch_`` + Crockford base32 of the schema UUID."""
        connector, key = _checked(connector, id)
        uuid = schema_uuid(caller.tenant, connector, key)
        return GeneratedId(encode_schema_id(uuid), connector, key)

    @get("/schema-uuid/{connector:str}/{id:str}", responses=problems(401, 403, 422))
    async def schema_uuid(self, caller: Caller, connector: Slug, id: Key) -> GeneratedUuid:
        """UUIDv5 of ``<tenant>/<connectorId>/<key>`` in the registry's namespace."""
        connector, key = _checked(connector, id)
        return GeneratedUuid(str(schema_uuid(caller.tenant, connector, key)), connector, key)


class ModelController(Controller):
    """``/model/schemas``: the JSON Schema documents every request body is validated with."""

    path = "/model"
    tags = ("model",)

    @get("/schemas", responses=problems(401, 403), opt=allow(READERS))
    async def model_schemas(self) -> dict[str, Any]:
        """JSON Schema 2020-12 documents for Schema, Field, Relationship and FieldType."""
        return {"schemas": model_documents()}


@get("/health", tags=["operations"])
async def health() -> Health:
    """Liveness: answers without credentials."""
    return Health(status="ok")
