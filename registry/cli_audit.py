"""Changes made from the command line land in the audit trail like HTTP ones (method ``CLI``)."""

from __future__ import annotations

from domain.common import Actor
from registry.service import Registry


def record_cli_change(registry: Registry, actor: Actor, action: str, status: int) -> None:
    """Append the audit record of a ``registry <action>`` change by ``actor``."""
    registry.app.record_audit(
        tenant=actor.tenant, authenticated=True, subject=actor.subject, email=None,
        app_id=None, method="CLI", route=f"registry {action}",
        schema_id=None, status=status, outcome="success",
    )
