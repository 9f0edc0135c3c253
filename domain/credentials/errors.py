"""Errors of the credential domain, mapped to HTTP statuses by the API layer like the others."""

from __future__ import annotations

from domain.errors import RegistryError, Violation

CREDENTIAL_NOT_FOUND = "credential not found"
"""The one message of every unknown credential id: it never says whether the id exists
elsewhere."""


class CredentialValidationError(RegistryError):
    """A credential document or its data breaks its type's rules."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__("; ".join(f"{v.pointer or '/'}: {v.message}" for v in violations))


class CredentialNotFoundError(RegistryError):
    """No credential with that id exists for the caller's tenant."""


class CredentialVersionNotFoundError(RegistryError):
    """The credential exists but has no such version."""


class CredentialDeletedError(RegistryError):
    """The credential is soft-deleted; it can be restored."""


class CredentialErasedError(RegistryError):
    """The credential was erased; its data is gone for good."""


class CredentialNotDeletedError(RegistryError):
    """Restore was asked for a credential that is not deleted."""


class CredentialOwnedError(RegistryError):
    """The credential belongs to a connector: it changes, and goes, with that connector."""

    def __init__(self, credential_id: str, connector_id: str) -> None:
        self.connector_id = connector_id
        super().__init__(
            f"credential {credential_id} belongs to connector {connector_id}: change it with "
            f"PUT /internal/v1/connectors/{connector_id}/credentials; it is deleted, restored "
            "and erased with that connector")


class CredentialInUseError(RegistryError):
    """A credential connections use cannot be deleted or erased."""

    def __init__(self, users: list[str]) -> None:
        self.users = users
        super().__init__("the credential is used by " + ", ".join(users)
                         + "; change or remove those connections first")
