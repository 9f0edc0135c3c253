"""The universal connector: any HTTP API, described by a base URL and the hosts it may reach.

Its credentials come in five shapes (none, API key, basic, bearer, OAuth 2 client), told apart
by ``authType``; the hosts it may call are listed explicitly so a schema cannot make the
collector reach an arbitrary address.
"""

from __future__ import annotations

from typing import Any

from domain.connectors.definition import (
    ConnectorType,
    Mode,
    credential_variants,
    document,
    secret,
    strict,
    text,
    text_list,
    url,
    variant,
)

_LABEL = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOSTNAME = f"^(\\*\\.)?{_LABEL}(\\.{_LABEL})*$"


def _config() -> dict[str, Any]:
    return strict(
        "UniversalConfig",
        {
            "baseUrl": url("Base URL of every request"),
            "allowedHosts": text_list(
                "Hosts requests may reach; *.example.com allows subdomains",
                text("Host", max_length=253, pattern=HOSTNAME), max_items=50),
            "timeoutSeconds": {"type": "integer", "minimum": 1, "maximum": 300,
                               "default": 30, "description": "Timeout of one request"},
        },
        ("baseUrl", "allowedHosts"),
    )


def _credentials() -> dict[str, Any]:
    api_key = {
        "apiKey": secret("The API key"),
        "headerName": text("Header (or query parameter) carrying the key", max_length=128,
                           pattern="^[A-Za-z0-9_-]+$", default="X-API-Key"),
        "in": {"enum": ["header", "query"], "default": "header",
               "description": "Where the key goes"},
    }
    oauth2 = {
        "clientId": text("OAuth client id", max_length=512),
        "clientSecret": secret("OAuth client secret"),
        "tokenUrl": url("Token endpoint"),
        "scopes": text_list("Scopes to ask for", text("Scope", max_length=512), min_items=0),
        "accessToken": secret("Current access token"),
        "refreshToken": secret("Refresh token"),
    }
    return credential_variants("UniversalCredentials", {
        "none": variant("UniversalNoAuth", "none", {}),
        "apiKey": variant("UniversalApiKey", "apiKey", api_key, ("apiKey",)),
        "basic": variant("UniversalBasic", "basic", {
            "username": text("User name"), "password": secret("Password"),
        }, ("username", "password")),
        "bearer": variant("UniversalBearer", "bearer", {"token": secret("Bearer token")},
                          ("token",)),
        "oauth2": variant("UniversalOAuth2", "oauth2", oauth2,
                          ("clientId", "clientSecret", "tokenUrl")),
    })


UNIVERSAL = ConnectorType(
    type="universal",
    name="Universal HTTP API",
    description="Any HTTP API: a base URL and the hosts it may reach (connection variables"
                " are the connector's top-level connectionVariables).",
    mode=Mode.API,
    protocol="http",
    auth_types=("none", "apiKey", "basic", "bearer", "oauth2"),
    oauth=True,
    config_schema=document("universal-config", _config()),
    credentials_schema=document("universal-credentials", _credentials()),
)
