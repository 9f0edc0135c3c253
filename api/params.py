"""Typed path, query and header parameters, declared once and shared by every controller.

Litestar parses and checks them; a bad value answers 422 with a pointer to the name the client
sent (``/query/includeDeleted``), which is why each alias is registered with the problem map.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar.di import NamedDependency
from litestar.params import HeaderParameter, PathParameter, QueryParameter

from api import access
from api.problems import PARAMETER_ALIASES
from domain.model import SLUG

INTERNAL = "/internal/v1"
UNIVERSAL = f"{INTERNAL}/connector/universal"
"""The path prefixes, written once."""
MAX_LIMIT = 200
DEFAULT_LIMIT = 50

PARAMETER_ALIASES.update(
    include_deleted="includeDeleted",
    connector_id="connectorId",
    entity_type="entityType",
    schema_id="schemaId",
    if_match="If-Match",
    if_none_match="If-None-Match",
)

Caller = NamedDependency[access.Caller]
"""The authenticated caller and the registry (dependency ``caller``)."""
JsonBody = NamedDependency[Any]
"""The request's JSON document (dependency ``document``): 415 unless JSON, 400 if malformed."""

SchemaId = Annotated[str, PathParameter(description="Schema id: sch_… or its UUID")]
ConnectorId = Annotated[str, PathParameter(description="Connector id of the schema")]
Version = Annotated[str, PathParameter(description="A version number (1, 2, …)")]
IfMatch = Annotated[
    str | None, HeaderParameter(name="If-Match", description='"<version>": 412 unless current')
]
IfNoneMatch = Annotated[
    str | None, HeaderParameter(name="If-None-Match", description='"<version>": 304 if current')
]
IncludeDeleted = Annotated[
    bool,
    QueryParameter(name="includeDeleted", description="true: also soft-deleted schemas"),
]
Limit = Annotated[
    int, QueryParameter(description=f"1 to {MAX_LIMIT}, default {DEFAULT_LIMIT}", ge=1,
                        le=MAX_LIMIT)
]
Cursor = Annotated[
    str | None,
    QueryParameter(description="nextCursor of the previous page", min_length=1, max_length=400,
                   pattern="^[A-Za-z0-9_-]+$"),
]
ConnectorFilter = Annotated[str | None, QueryParameter(name="connectorId")]
EntityTypeFilter = Annotated[str | None, QueryParameter(name="entityType")]
Slug = Annotated[str, PathParameter(description="Connector id", pattern=SLUG)]
Key = Annotated[
    str, PathParameter(description="Schema key (defaults to the entity type)", pattern=SLUG)
]
