"""What a connection test can conclude besides success, each mapped to one problem status.

A 500 is never among them: it only ever means a bug of the registry.
"""

from __future__ import annotations

from domain.connectors.errors import ConnectorValidationError
from domain.errors import RegistryError


class ConnectionTestInvalidError(ConnectorValidationError):
    """The config or credentials to test break the catalogue's rules (400, nothing sent)."""


class ConnectionProblem(RegistryError):
    """A test that reached a conclusion other than success; ``status`` is its HTTP status."""

    status = 502

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class TargetNotAllowedError(ConnectionProblem):
    """The target resolves to an address tests may not reach (400, nothing contacted)."""

    status = 400


class CredentialsRefusedError(ConnectionProblem):
    """The system answered and refused the credentials (403)."""

    status = 403


class ConnectionTimeoutError(ConnectionProblem):
    """The system did not answer within the test timeout (408)."""

    status = 408


class ConnectionFailedError(ConnectionProblem):
    """Any other failure of the system or the way to it: refused, DNS, TLS, 5xx (502)."""

    status = 502
