"""Domain errors: raised typed, mapped to HTTP statuses in one place (``api.errors``)."""

from __future__ import annotations

from dataclasses import dataclass


class RegistryError(Exception):
    """Base class of every error the registry raises on purpose."""


@dataclass(frozen=True)
class Violation:
    """One failed rule: a JSON pointer into the request document and a message."""

    pointer: str
    message: str


class SchemaValidationError(RegistryError):
    """A schema document breaks the model's rules."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__("; ".join(f"{v.pointer or '/'}: {v.message}" for v in violations))


NOT_FOUND = "schema not found"
"""The one message of every unknown id: it never says whether the id exists elsewhere."""


class SchemaNotFoundError(RegistryError):
    """No schema with that id exists for the caller's tenant."""


class SchemaDeletedError(RegistryError):
    """The schema is soft-deleted; it can be restored."""


class SchemaErasedError(RegistryError):
    """The schema was erased; its content is gone for good."""


class SchemaVersionNotFoundError(RegistryError):
    """The schema exists but never had that version."""


class SchemaAlreadyExistsError(RegistryError):
    """A schema with the same tenant, connector and key already exists."""

    def __init__(self, existing_id: str, *, deleted: bool) -> None:
        self.existing_id = existing_id
        self.deleted = deleted
        state = "a soft-deleted schema" if deleted else "a schema"
        super().__init__(f"{state} with this connectorId and key already exists: {existing_id}")


class SchemaForbiddenError(RegistryError):
    """The caller may read the schema but not change it: its connector is hidden from them."""


class SchemaNotDeletedError(RegistryError):
    """Restore was asked for a schema that is not deleted."""


class StaleVersionError(RegistryError):
    """``If-Match`` did not name the current version."""

    def __init__(self, current: int) -> None:
        self.current = current
        super().__init__(f"If-Match does not name the current version, which is {current}")


class IncompatibleSchemaError(RegistryError):
    """A replacement breaks the schema's effective compatibility mode; nothing was recorded.

    ``violations`` are the broken rules as their JSON documents (``pointer``, ``rule``,
    ``message``).
    """

    def __init__(self, mode: str, violations: list[dict[str, str]]) -> None:
        self.mode = mode
        self.violations = violations
        super().__init__(
            f"the document breaks {mode} compatibility in {len(violations)} place(s)")


class ConcurrentWriteError(RegistryError):
    """Another writer changed the schema between our read and our write."""
