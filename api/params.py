"""Typed path, query and header parameters, declared once and shared by every controller.

Litestar parses and checks them; a bad value answers 422 with a pointer to the name the client
sent (``/query/includeDeleted``), which is why each alias is registered with the problem map.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar.di import NamedDependency
from litestar.params import HeaderParameter, PathParameter, QueryParameter

from api import access
from api.problems import PARAMETER_ALIASES
from domain.compatibility import Mode
from domain.connectors.catalogue import list_types
from domain.credentials.types import TYPE_NAMES
from domain.model import SLUG
from domain.oauth.tokens import code_flow_types
from registry.connection.tester import ConnectionTester

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
    type_filter="type",
    connector_cursor="cursor",
    scope_filter="scope",
    credential_cursor="cursor",
    credential_type="type",
    oauth_key="oauth-key",
    doc_cursor="cursor",
)

Caller = NamedDependency[access.Caller]
"""The authenticated caller and the registry (dependency ``caller``)."""
Tester = NamedDependency[ConnectionTester]
"""The connection tester built from the app's settings (dependency ``tester``)."""
JsonBody = NamedDependency[Any]
"""The request's JSON document (dependency ``document``): 415 unless JSON, 400 if malformed."""

_HEX = "[0-9A-Fa-f]"
_UUID = f"{_HEX}{{32}}|{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}"
SCHEMA_ID = f"^(sch_[0-7][0-9A-TV-Za-tv-z]{{25}}|{_UUID})$"
"""A schema id as the document states it: ``sch_`` + 26 Crockford base32 characters (any case;
I and L read as 1, O as 0; at most 128 bits, so the first is 0-7), or the UUID with or without
the four hyphens. Anything else is an unknown schema: 404, never 422."""
CONNECTOR_ID = f"^(cnn_[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{{25}}|{_UUID})$"
"""A connector id: ``cnn_`` + 26 Crockford base32 characters, or its UUID (as for schemas)."""
CREDENTIAL_ID = f"^(crd_[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{{25}}|{_UUID})$"
"""A credential id: ``crd_`` + 26 Crockford base32 characters, or its UUID (as for schemas)."""
UUID = f"^({_UUID})$"
VERSION = "^0*[1-9][0-9]*$"
ETAGS = r'^\s*(\*|(W/)?"[0-9]{1,9}"(\s*,\s*(W/)?"[0-9]{1,9}")*)\s*$'
"""``*`` or a list of our entity tags ``"<version>"`` (RFC 9110)."""
STRONG_ETAGS = r'^\s*(\*|"[0-9]{1,9}"(\s*,\s*"[0-9]{1,9}")*)\s*$'
SCHEMA_CURSOR = "schema-list-cursor"
CONNECTOR_CURSOR = "connector-list-cursor"
CREDENTIAL_CURSOR = "credential-list-cursor"
AUDIT_CURSOR = "audit-cursor"
SYNC_CURSOR = "sync-job-list-cursor"
DOC_CURSOR = "doc-list-cursor"
"""The formats of the opaque cursors: only a ``nextCursor`` of the same list is one (the
handlers decode it; anything else answers 422 ``/query/cursor``)."""

# The patterns below are stated in the document only (``schema_extra``): the handlers answer a
# value that breaks them with 404, 304/200 or 412 as documented, not with a parameter error.
SchemaId = Annotated[
    str,
    PathParameter(description="Schema id: `sch_` + 26 Crockford base32 characters, or its UUID;"
                  " any other value is an unknown schema (404)",
                  schema_extra={"pattern": SCHEMA_ID}),
]
ConnectorId = Annotated[
    str,
    PathParameter(description="Connector id of the schema; another connector's id answers 404",
                  schema_extra={"pattern": SLUG}),
]
Version = Annotated[
    str,
    PathParameter(description="A version number: 1, 2, … (at most 9 digits); anything else"
                  " answers 404", schema_extra={"pattern": VERSION, "maxLength": 9}),
]
IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        description='`*` or a list of strong entity tags `"<version>"` (RFC 9110): 412 unless one'
                    " is the current version. A weak tag (`W/\"1\"`) or any other value never"
                    " matches: 412.",
        schema_extra={"pattern": STRONG_ETAGS},
    ),
]
IfNoneMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-None-Match",
        description='`*` or a list of entity tags `"<version>"` (a `W/` prefix is accepted): 304'
                    " when one is the current version; any other value never matches.",
        schema_extra={"pattern": ETAGS},
    ),
]
CompatibilityMode = Annotated[
    Mode | None,
    QueryParameter(description="The mode to check; default: the schema's (BACKWARD)"),
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
    QueryParameter(description="The `nextCursor` of the previous page of this list (opaque);"
                   " any other value answers 422", schema_extra={"format": SCHEMA_CURSOR}),
]
AuditCursor = Annotated[
    str | None,
    QueryParameter(name="cursor", description="The `nextCursor` of the previous page of the"
                   " audit trail (opaque); any other value answers 422",
                   schema_extra={"format": AUDIT_CURSOR}),
]
ConnectorFilter = Annotated[str | None, QueryParameter(name="connectorId")]
EntityTypeFilter = Annotated[str | None, QueryParameter(name="entityType")]
Slug = Annotated[str, PathParameter(description="Connector id", pattern=SLUG)]
Key = Annotated[
    str, PathParameter(description="Schema key (defaults to the entity type)", pattern=SLUG)
]
SchemaIdFilter = Annotated[
    str | None,
    QueryParameter(name="schemaId", description="Only entries of this schema (`sch_` id or UUID);"
                   " any other value answers 422", schema_extra={"pattern": SCHEMA_ID}),
]
TokenId = Annotated[
    str,
    PathParameter(description="API token id (a UUID); any other value is an unknown token (404)",
                  schema_extra={"pattern": UUID}),
]
ConnectorTypeName = Annotated[
    str,
    PathParameter(description="A connector type of the catalogue; any other value answers 404",
                  schema_extra={"enum": [entry.type for entry in list_types()]}),
]
IfNoneMatchHash = Annotated[
    str | None,
    HeaderParameter(
        name="If-None-Match",
        description='`*` or a list of entity tags `"<32 hex>"` (a `W/` prefix is accepted): 304'
                    " when one is the current tag. Any value is accepted: one that names no"
                    " current tag (or is not a list of tags) never matches, and the body is sent.",
    ),
]
ConnectorPathId = Annotated[
    str,
    PathParameter(description="Connector id: `cnn_` + 26 Crockford base32 characters, or its"
                  " UUID; any other value is an unknown connector (404)",
                  schema_extra={"pattern": CONNECTOR_ID}),
]
ConnectorCursor = Annotated[
    str | None,
    QueryParameter(name="cursor", description="The `nextCursor` of the previous page of this"
                   " list (opaque); any other value answers 422",
                   schema_extra={"format": CONNECTOR_CURSOR}),
]
TypeFilter = Annotated[
    str | None,
    QueryParameter(name="type", description="Only connectors of this catalogue type"),
]
ProviderFilter = Annotated[str | None, QueryParameter(description="Only this provider")]
EnabledFilter = Annotated[
    str | None,
    QueryParameter(description="`true`: only enabled connectors; `false`: only disabled ones;"
                   " any other value answers 422", schema_extra={"enum": ["true", "false"]}),
]
TagFilter = Annotated[
    str | None,
    QueryParameter(description="`key` (the tag is set) or `key=value`"),
]
ScopeFilter = Annotated[
    Literal["org", "user", "group"] | None,
    QueryParameter(name="scope", description="Only connectors of this scope"),
]
Cascade = Annotated[
    bool,
    QueryParameter(description="true: also soft-delete the connector's live schemas; false"
                   " (default): 409 while it holds any"),
]
IncludeDeletedConnectors = Annotated[
    bool,
    QueryParameter(name="includeDeleted", description="true: also soft-deleted connectors"),
]
IncludeDeletedSchemas = Annotated[
    bool,
    QueryParameter(name="includeDeleted", description="true: also soft-deleted schemas, and"
                   " those of a soft-deleted connector (which answers 404 without it)"),
]
CredentialPathId = Annotated[
    str,
    PathParameter(description="Credential id: `crd_` + 26 Crockford base32 characters, or its"
                  " UUID; any other value is an unknown credential (404)",
                  schema_extra={"pattern": CREDENTIAL_ID}),
]
CredentialCursor = Annotated[
    str | None,
    QueryParameter(name="cursor", description="The `nextCursor` of the previous page of this"
                   " list (opaque); any other value answers 422",
                   schema_extra={"format": CREDENTIAL_CURSOR}),
]
CredentialTypeFilter = Annotated[
    Literal[TYPE_NAMES] | None,  # type: ignore[valid-type]
    QueryParameter(name="type", description="Only credentials of this type"),
]
IncludeDeletedCredentials = Annotated[
    bool,
    QueryParameter(name="includeDeleted", description="true: also soft-deleted credentials"),
]
OAuthTypeName = Annotated[
    str,
    PathParameter(description="A connector type with an OAuth flow; any other value answers 404",
                  schema_extra={"enum": list(code_flow_types())}),
]
OAuthKey = Annotated[
    str | None,
    QueryParameter(name="oauth-key", description="The `oauthKey` of a completed OAuth flow of"
                   " the connector's type: its tokens become the credentials (then no"
                   " `credentials` in the body). Used once; unknown, used, older than ten"
                   " minutes or another tenant's: 408; over 200 characters: 422",
                   max_length=200),
]
DocId = Annotated[
    str,
    PathParameter(description="A page id from `GET …/docs`: `guide-collectors`, `type-<type>`"
                  " or `connector-<cnn_ id or UUID>`; any other value answers 404"),
]
DocCursor = Annotated[
    str | None,
    QueryParameter(name="cursor", description="The `nextCursor` of the previous page of this"
                   " list (opaque); any other value answers 422",
                   schema_extra={"format": DOC_CURSOR}),
]
