"""Request parsing: the one JSON body decoder, conditional headers, ids and cursors."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

import msgspec
from litestar import Request

from api.problems import bad_request, invalid_parameters, unsupported_media_type
from domain.connectors.errors import CONNECTOR_NOT_FOUND, ConnectorNotFoundError
from domain.connectors.ids import decode_connector_id
from domain.credentials.errors import CREDENTIAL_NOT_FOUND, CredentialNotFoundError
from domain.credentials.ids import decode_credential_id
from domain.errors import NOT_FOUND, SchemaNotFoundError, Violation
from domain.ids import decode_schema_id

Row = TypeVar("Row")


async def json_document(request: Request[Any, Any, Any]) -> Any:
    """The JSON body of a request (a dependency): 415 when not JSON, 400 when malformed."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise unsupported_media_type("send the body as application/json")
    return decode_json(await request.body())


def decode_json(raw: bytes) -> Any:
    """Decode a JSON document; every way it can be malformed is a 400."""
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as error:
        raise bad_request(f"the body is not valid JSON: {error}") from None
    except UnicodeDecodeError:
        raise bad_request("the body is not valid UTF-8") from None
    except RecursionError:
        raise bad_request("the body is nested too deeply") from None


def schema_uuid_param(text: str) -> UUID:
    """A schema id path parameter in either form (``sch_…`` or UUID); 404 when neither."""
    value = decode_schema_id(text)
    if value is None:
        raise SchemaNotFoundError(NOT_FOUND)
    return value


def connector_uuid_param(text: str) -> UUID:
    """A connector id path parameter in either form (``cnn_…`` or UUID); 404 when neither."""
    value = decode_connector_id(text)
    if value is None:
        raise ConnectorNotFoundError(CONNECTOR_NOT_FOUND)
    return value


def credential_uuid_param(text: str) -> UUID:
    """A credential id path parameter in either form (``crd_…`` or UUID); 404 when neither."""
    value = decode_credential_id(text)
    if value is None:
        raise CredentialNotFoundError(CREDENTIAL_NOT_FOUND)
    return value


def etag(version: int) -> str:
    """The strong entity tag of a schema version."""
    return f'"{version}"'


def _tags(header: str) -> list[str]:
    tags = []
    for part in header.split(","):
        tag = part.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        tags.append(tag.strip('"'))
    return tags


def if_match_versions(header: str | None) -> frozenset[int] | None:
    """The versions ``If-Match`` accepts (strong comparison); ``None`` when absent or ``*``.

    Weak tags and anything that is not one of our entity tags never match.
    """
    if header is None or header.strip() == "*":
        return None
    versions = set()
    for part in header.split(","):
        tag = part.strip()
        if len(tag) > 2 and tag[0] == tag[-1] == '"' and is_number(tag[1:-1], digits=9):
            versions.add(int(tag[1:-1]))
    return frozenset(versions)


def none_match(header: str | None, current: int | str) -> bool:
    """True when an ``If-None-Match`` header names the current tag (or ``*``).

    ``current`` is the tag's opaque part: a schema version, or a content hash. The comparison
    is weak (RFC 9110), so ``W/"x"`` matches ``"x"``.
    """
    if header is None:
        return False
    return header.strip() == "*" or str(current) in _tags(header)


def is_number(text: str, *, digits: int) -> bool:
    """True for ASCII decimal digits only, at most ``digits`` of them."""
    return 0 < len(text) <= digits and text.isascii() and text.isdigit()


def pack_cursor(kind: str, *parts: str) -> str:
    """An opaque pagination cursor of one kind of list."""
    text = "|".join((kind, *parts))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def split_page(
    rows: list[Row], size: int, cursor_of: Callable[[Row], str]
) -> tuple[list[Row], str | None]:
    """The first ``size`` of ``size + 1`` fetched rows, and a cursor after them when more exist."""
    page = rows[:size]
    return page, (cursor_of(page[-1]) if len(rows) > size else None)


def unpack_cursor(value: str | None, kind: str, size: int) -> list[str] | None:
    """The parts of a cursor made by :func:`pack_cursor`; 422 when it is not one."""
    if value is None:
        return None
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    parts = text.split("|")
    if len(parts) != size + 1 or parts[0] != kind:
        raise invalid_parameters([Violation("/query/cursor", "not a cursor of this API")])
    return parts[1:]


def decode_cursor(value: str | None) -> str | None:
    """The schema id a schema-list cursor points after."""
    parts = unpack_cursor(value, "schemas", 1)
    if parts is None:
        return None
    if decode_schema_id(parts[0]) is None:
        raise invalid_parameters([Violation("/query/cursor", "not a cursor of this API")])
    return parts[0]


def decode_id_cursor(value: str | None, kind: str, prefix: str,
                     decode: Callable[[str], UUID | None]) -> str | None:
    """The ``prefix`` id a cursor of the ``kind`` list points after (422 for anything else)."""
    parts = unpack_cursor(value, kind, 1)
    if parts is None:
        return None
    if not parts[0].startswith(prefix) or decode(parts[0]) is None:
        raise invalid_parameters([Violation("/query/cursor", "not a cursor of this API")])
    return parts[0]


def decode_connector_cursor(value: str | None) -> str | None:
    """The connector id a connector-list cursor points after."""
    return decode_id_cursor(value, "connectors", "cnn_", decode_connector_id)


def flag_param(value: str | None, name: str) -> bool | None:
    """An optional ``true``/``false`` query parameter; 422 for any other value."""
    if value is None:
        return None
    if value not in ("true", "false"):
        raise invalid_parameters([Violation(f"/query/{name}", "must be true or false")])
    return value == "true"
