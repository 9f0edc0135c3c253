"""Errors of sync jobs, mapped to HTTP statuses by the API layer like the others."""

from __future__ import annotations

from domain.errors import RegistryError


class SyncJobNotFoundError(RegistryError):
    """No such job for this connector of the caller's tenant."""


class SyncInProgressError(RegistryError):
    """The connector already has a queued or running job (``job_id``)."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"job {job_id} of this connector is still queued or running")


class SyncJobFinishedError(RegistryError):
    """The job has finished; it cannot be cancelled, claimed or changed any more."""


class SyncJobNotRunningError(RegistryError):
    """Progress or a result was reported for a job that is not running (or not by the
    worker that runs it): that worker lost the job."""
