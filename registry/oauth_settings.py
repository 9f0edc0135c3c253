"""OAuth settings: the provider and client of each connector type with an OAuth flow.

Per type ``T`` (upper case: ``GOOGLE_DRIVE``, ``NOTION``, ``SALESFORCE``):
``REGISTRY_OAUTH_T_CLIENT_ID``, ``_CLIENT_SECRET``, ``_AUTHORIZE_URL``, ``_TOKEN_URL``; and
``REGISTRY_OAUTH_REDIRECT_URI`` (where the provider sends the user back) and
``REGISTRY_OAUTH_REFRESH_MARGIN`` (seconds before expiry a token is refreshed, default 300).
A type is configured when its client id is set; then both URLs and the redirect URI are
required. The client secret may be empty (a public client: PKCE alone).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from domain.oauth.tokens import code_flow_types
from registry.errors import SettingsError

REFRESH_MARGIN_SECONDS = 300


@dataclass(frozen=True)
class OAuthClient:
    """The registry's client at one provider (the secret never shows in a repr)."""

    client_id: str
    authorize_url: str
    token_url: str
    client_secret: str = field(default="", repr=False)


@dataclass(frozen=True)
class OAuthSettings:
    """The OAuth clients by connector type, where users come back to, the refresh margin."""

    clients: Mapping[str, OAuthClient] = field(default_factory=dict)
    redirect_uri: str = ""
    refresh_margin: timedelta = timedelta(seconds=REFRESH_MARGIN_SECONDS)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> OAuthSettings:
        """Read ``REGISTRY_OAUTH_*`` (only parses; nothing is contacted)."""
        clients = {}
        for type_name in code_flow_types():
            client = _client(env, f"REGISTRY_OAUTH_{type_name.upper()}")
            if client is not None:
                clients[type_name] = client
        redirect = env.get("REGISTRY_OAUTH_REDIRECT_URI", "").strip()
        if clients and not redirect.startswith(("https://", "http://")):
            raise SettingsError("REGISTRY_OAUTH_REDIRECT_URI must be an http(s) URL when an "
                                "OAuth client is configured")
        margin = env.get("REGISTRY_OAUTH_REFRESH_MARGIN", "").strip()
        if margin and not margin.isdigit():
            raise SettingsError(f"REGISTRY_OAUTH_REFRESH_MARGIN must be a whole number of "
                                f"seconds >= 0, not {margin!r}")
        seconds = int(margin) if margin else REFRESH_MARGIN_SECONDS
        return cls(clients, redirect, timedelta(seconds=seconds))


def _client(env: Mapping[str, str], prefix: str) -> OAuthClient | None:
    client_id = env.get(f"{prefix}_CLIENT_ID", "").strip()
    if not client_id:
        return None
    urls = {}
    for name in ("AUTHORIZE_URL", "TOKEN_URL"):
        value = env.get(f"{prefix}_{name}", "").strip()
        if not value.startswith(("https://", "http://")):
            raise SettingsError(f"{prefix}_{name} must be an http(s) URL when "
                                f"{prefix}_CLIENT_ID is set")
        urls[name] = value
    return OAuthClient(client_id, urls["AUTHORIZE_URL"], urls["TOKEN_URL"],
                       env.get(f"{prefix}_CLIENT_SECRET", ""))
