"""Errors of the OAuth flow, mapped to HTTP statuses by the API layer like the others."""

from __future__ import annotations

from domain.errors import RegistryError

OAUTH_KEY_EXPIRED = ("the OAuth grant is unknown, already used, older than ten minutes, or of "
                     "another tenant or connector type; start the flow again")
"""The one message of every unusable state or key: it never says which of those it was."""


class OAuthKeyExpiredError(RegistryError):
    """A ``state`` or ``oauth-key`` that names no grant the caller may use now (408)."""


class OAuthTypeError(RegistryError):
    """The connector type has no OAuth authorization-code flow (404)."""


class OAuthNotConfiguredError(RegistryError):
    """No OAuth client is configured for the connector type in this deployment (409)."""


class OAuthExchangeError(RegistryError):
    """The provider did not answer the code exchange with tokens (502)."""
