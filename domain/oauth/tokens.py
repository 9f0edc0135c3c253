"""From a provider's token response to a connector's credentials document, and back.

Pure rules: which catalogue types take their credentials from an authorization-code flow,
what the credentials look like, and when an access token is due for a refresh.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from domain.common import iso_timestamp, parse_timestamp
from domain.connectors.catalogue import get_type, list_types, validator
from domain.connectors.definition import ConnectorType

OAUTH_AUTH_TYPE = "oauth2"
_SAMPLE = {"accessToken": "sample"}


@cache
def has_code_flow(type_name: str) -> bool:
    """True when the type says ``oauth`` and its credentials are the tokens of a flow
    (``accessToken``...). The universal connector's ``oauth2`` is a client-credentials
    grant it runs itself, so it has no flow here."""
    entry = get_type(type_name)
    if entry is None or not entry.oauth:
        return False
    return validator(type_name, "credentials").is_valid(_document(entry, _SAMPLE))


def code_flow_types() -> tuple[str, ...]:
    """Every type with an OAuth authorization-code flow, in catalogue order."""
    return tuple(entry.type for entry in list_types() if has_code_flow(entry.type))


def credentials_from_token(type_name: str, token: Mapping[str, Any],
                           now: datetime) -> dict[str, Any]:
    """The credentials document of a token response (RFC 6749 section 5.1) received at
    ``now``: ``expires_in`` counts from ``now``, so the clock that decides a refresh is the
    registry's own."""
    entry = get_type(type_name)
    assert entry is not None
    document: dict[str, Any] = {"accessToken": str(token["access_token"])}
    if token.get("refresh_token"):
        document["refreshToken"] = str(token["refresh_token"])
    expires_in = token.get("expires_in")
    if isinstance(expires_in, int | float | str) and str(expires_in).isdigit():
        document["expiresAt"] = iso_timestamp(now + timedelta(seconds=int(expires_in)))
    if token.get("token_type"):
        document["tokenType"] = str(token["token_type"])
    if token.get("scope"):
        document["scope"] = str(token["scope"])
    return _document(entry, document)


def refreshed(type_name: str, before: Mapping[str, Any], token: Mapping[str, Any],
              now: datetime) -> dict[str, Any]:
    """The credentials after a refresh: a provider that sends no new refresh token lets the
    old one stand (RFC 6749 section 6)."""
    document = credentials_from_token(type_name, token, now)
    if "refreshToken" not in document and before.get("refreshToken"):
        document["refreshToken"] = before["refreshToken"]
    return document


def expires_at(credentials: Mapping[str, Any] | None) -> datetime | None:
    """When the access token of OAuth credentials expires (``None``: unknown, or not OAuth)."""
    value = (credentials or {}).get("expiresAt")
    return parse_timestamp(value) if isinstance(value, str) else None


def due_for_refresh(credentials: Mapping[str, Any] | None, now: datetime,
                    margin: timedelta) -> bool:
    """True when the access token expires within ``margin`` of ``now``."""
    moment = expires_at(credentials)
    return moment is not None and moment <= now + margin


def _document(entry: ConnectorType, tokens: dict[str, Any]) -> dict[str, Any]:
    # A type with several auth types tells them apart by ``authType``.
    if len(entry.auth_types) > 1:
        return {"authType": OAUTH_AUTH_TYPE, **tokens}
    return tokens
