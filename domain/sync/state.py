"""The state of a sync job after some event, shared by the aggregate and the read model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.sync.ids import encode_job_id

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = (
    "queued", "running", "succeeded", "failed", "cancelled")
FINISHED = frozenset({SUCCEEDED, FAILED, CANCELLED})
MAX_ERRORS = 20
"""How many record errors a job keeps (the first ones); the rest are only counted."""


@dataclass(frozen=True)
class Progress:
    """How far a job got: records yielded, valid ones, stored ones, invalid ones."""

    collected: int = 0
    parsed: int = 0
    indexed: int = 0
    invalid: int = 0

    def plus(self, other: Progress) -> Progress:
        return Progress(self.collected + other.collected, self.parsed + other.parsed,
                        self.indexed + other.indexed, self.invalid + other.invalid)

    def to_document(self) -> dict[str, int]:
        return {"collected": self.collected, "parsed": self.parsed, "indexed": self.indexed,
                "invalid": self.invalid}


@dataclass(frozen=True)
class SyncJobState:
    """Everything known about a job: what it runs, where it is, how it ended."""

    id: UUID
    tenant: str = ""
    connector_id: UUID | None = None
    requested_by: str | None = None
    script_version: str | None = None
    full: bool = True
    status: str = QUEUED
    queued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    worker: str | None = None
    attempt: int = 0
    progress: Progress = field(default_factory=Progress)
    drift: Mapping[str, int] = field(default_factory=dict)
    """Record fields the schema does not have, and how many records had each."""
    errors: tuple[str, ...] = ()
    """The first record errors (``MAX_ERRORS``), never a record value."""
    log: tuple[str, ...] = ()
    requests: int = 0
    """HTTP requests the script made (through the host), and their total time."""
    request_ms: float = 0.0
    checkpoint: Any = None
    """The last ``ctx.checkpoint`` of the run: where the connector's next sync starts."""
    error: str | None = None
    version: int = 0

    @property
    def job_id(self) -> str:
        return encode_job_id(self.id)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def active(self) -> bool:
        return self.status in (QUEUED, RUNNING)

    def summary(self) -> dict[str, Any]:
        """The counters and drift as plain data (for the connector's sync metrics)."""
        return {"progress": self.progress.to_document(), "drift": dict(self.drift)}
