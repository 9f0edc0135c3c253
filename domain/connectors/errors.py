"""Errors of the connector domain, mapped to HTTP statuses by the API layer like the others."""

from __future__ import annotations

from domain.errors import RegistryError, Violation

CONNECTOR_NOT_FOUND = "connector not found"
"""The one message of every unknown connector id: it never says whether the id exists elsewhere."""


class ConnectorValidationError(RegistryError):
    """A connector document, its config or its credentials break the catalogue's rules."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__("; ".join(f"{v.pointer or '/'}: {v.message}" for v in violations))


class ConnectorNotFoundError(RegistryError):
    """No connector with that id exists for the caller's tenant."""


class ConnectorVersionNotFoundError(RegistryError):
    """The connector exists but has no such version."""


class ConnectorDeletedError(RegistryError):
    """The connector is soft-deleted; it can be restored."""


class ConnectorErasedError(RegistryError):
    """The connector was erased; its config, credentials and schemas are gone for good."""


class ConnectorNotDeletedError(RegistryError):
    """Restore was asked for a connector that is not deleted."""


class ConnectorNotLiveError(RegistryError):
    """A schema change needs its connector live, and the connector is deleted."""


class ConnectorExistsError(RegistryError):
    """A connector with that id was already created."""


class ConnectorNameTakenError(RegistryError):
    """Another connector of the tenant already holds that name (deleted ones keep theirs)."""

    def __init__(self, holder_id: str) -> None:
        self.holder_id = holder_id
        super().__init__(f"a connector with this name already exists: {holder_id}")


class ConnectorHasSchemasError(RegistryError):
    """Delete without cascade was asked while the connector still holds schemas."""

    def __init__(self, schema_ids: list[str]) -> None:
        self.schema_ids = schema_ids
        super().__init__(
            "the connector still holds schemas; delete them first or ask for a cascade: "
            + ", ".join(schema_ids)
        )


class ConnectorForbiddenError(RegistryError):
    """The caller may see the connector but not change it: only its owner or an admin may."""


CONNECTOR_TYPE_NOT_FOUND = "unknown connector type; the catalogue lists the known ones"
"""The one message of every unknown type: details never echo what the caller sent."""


class ConnectorTypeNotFoundError(RegistryError):
    """The catalogue has no connector type of that name."""


class ConnectorRefreshBusyError(RegistryError):
    """Another process is refreshing the connector's OAuth tokens right now."""
