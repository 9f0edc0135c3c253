"""Compatibility modes and directions: names only, so that the documents that accept a mode
(``domain.model``, ``domain.connectors.document``) and the rules that enforce it
(``domain.compatibility``) share one list."""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """A compatibility mode, in the vocabulary of Confluent, Apicurio and Glue."""

    NONE = "NONE"
    BACKWARD = "BACKWARD"
    FORWARD = "FORWARD"
    FULL = "FULL"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"

    @property
    def directions(self) -> tuple[Direction, ...]:
        """The directions this mode checks, backward first."""
        base = self.value.removesuffix("_TRANSITIVE")
        if base == "FULL":
            return (Direction.BACKWARD, Direction.FORWARD)
        if base == "NONE":
            return ()
        return (Direction(base),)

    @property
    def transitive(self) -> bool:
        """Whether every live past version is checked, not only the current one."""
        return self.value.endswith("_TRANSITIVE")


class Direction(StrEnum):
    """Who reads whose records: the ``rule`` of a violation."""

    BACKWARD = "BACKWARD"
    """The candidate reads records written under a past version."""
    FORWARD = "FORWARD"
    """A past version reads records written under the candidate."""
