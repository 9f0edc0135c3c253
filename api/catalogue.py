"""``/internal/v1/connector-types``: the connector catalogue, read-only and the same for everyone.

The catalogue is code, so its documents cannot change while the process runs: each body is
encoded once, with a strong ``ETag`` that is a hash of its bytes, and every request after that
only compares tags or copies bytes. The catalogue is not tenant data, but the routes sit under
``/internal`` like every other, so callers still present both credentials and a reader role.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache

import msgspec
from litestar import Controller, Response, get

from api.access import READERS, allow
from api.bodies import none_match
from api.models import ConnectorTypeList, ConnectorTypeOut, connector_type_out
from api.openapi import (
    CATALOGUE_CACHE,
    CachedOperation,
    encoded_responses,
    problem,
    problems,
)
from api.params import INTERNAL, ConnectorTypeName, IfNoneMatchHash
from domain.connectors.catalogue import list_types
from domain.connectors.errors import CONNECTOR_TYPE_NOT_FOUND, ConnectorTypeNotFoundError

JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Encoded:
    """A response body as bytes, and its entity tag's opaque part (a hash of those bytes)."""

    body: bytes
    tag: str

    @classmethod
    def of(cls, value: ConnectorTypeOut | ConnectorTypeList) -> Encoded:
        """``value`` encoded; the tag is the first 128 bits of the body's SHA-256, in hex."""
        body = msgspec.json.encode(value)
        return cls(body, hashlib.sha256(body).hexdigest()[:32])

    def respond(self, if_none_match: str | None) -> Response[bytes]:
        """The body, or 304 when the client already holds it; the same headers either way."""
        headers = {"ETag": f'"{self.tag}"', "Cache-Control": CATALOGUE_CACHE}
        if none_match(if_none_match, self.tag):
            return Response(b"", status_code=304, headers=headers)
        return Response(self.body, media_type=JSON, headers=headers)


@dataclass(frozen=True, slots=True)
class EncodedCatalogue:
    """Every body the catalogue routes answer: the list, and each type by name."""

    listing: Encoded
    by_type: dict[str, Encoded]

    def of_type(self, type_name: str) -> Encoded:
        """One type's body; 404 ``connector-type-not-found`` for a name the catalogue lacks."""
        found = self.by_type.get(type_name)
        if found is None:
            raise ConnectorTypeNotFoundError(CONNECTOR_TYPE_NOT_FOUND)
        return found


@cache
def encoded_catalogue() -> EncodedCatalogue:
    """The catalogue's bodies, encoded on first use and kept for the life of the process."""
    types = [connector_type_out(entry) for entry in list_types()]
    return EncodedCatalogue(
        listing=Encoded.of(ConnectorTypeList(connector_types=types)),
        by_type={out.type: Encoded.of(out) for out in types},
    )


class ConnectorTypeController(Controller):
    """The connector types a connector can be made of, with their config and credentials
    JSON Schema documents, so a client can build and check a connector before sending it."""

    path = f"{INTERNAL}/connector-types"
    tags = ("connector-types",)
    opt = allow(READERS)

    @get("/", summary="List connector types", operation_class=CachedOperation,
         responses=problems(401, 403) | encoded_responses(ConnectorTypeList,
                                                          "Every connector type"))
    async def list_connector_types(self, if_none_match: IfNoneMatchHash = None) -> Response[bytes]:
        """The whole catalogue; ``ETag`` is a hash of the body, ``If-None-Match`` answers 304."""
        return encoded_catalogue().listing.respond(if_none_match)

    @get("/{type:str}", summary="Get a connector type", operation_class=CachedOperation,
         responses=problems(401, 403) | problem(404, "No connector type of that name")
         | encoded_responses(ConnectorTypeOut, "The connector type"))
    async def get_connector_type(
        self, type: ConnectorTypeName, if_none_match: IfNoneMatchHash = None
    ) -> Response[bytes]:
        """One type with its configSchema and credentialsSchema; unknown names answer 404."""
        return encoded_catalogue().of_type(type).respond(if_none_match)
