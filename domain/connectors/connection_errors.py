"""Errors of a connector's auth scheme configs and connections (mapped in ``api.problems``)."""

from __future__ import annotations

from domain.errors import RegistryError


class AuthSchemeConfigNotFoundError(RegistryError):
    """The connector has no auth scheme config with that id."""


class AuthSchemeConfigExistsError(RegistryError):
    """The connector already has an auth scheme config with that id."""


class AuthSchemeConfigInUseError(RegistryError):
    """An auth scheme config a connection still uses cannot be removed."""

    def __init__(self, config_id: str, connections: list[str]) -> None:
        self.connections = connections
        super().__init__(f"auth scheme config {config_id} is used by connection(s) "
                         + ", ".join(connections) + "; change or remove them first")


class ConnectionNotFoundError(RegistryError):
    """The connector has no connection with that name."""


class ConnectionNameTakenError(RegistryError):
    """Another connection of the connector already has that name."""
