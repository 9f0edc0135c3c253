"""Who may see and who may change a connector: pure functions of its state and the caller.

The registry loads connectors of the caller's tenant only, so these rules never look at the
tenant; they decide within it. ``groups`` comes from the token's ``groups`` claim and
``roles`` from its roles; ``admin`` sees and changes everything of its tenant.
"""

from __future__ import annotations

from collections.abc import Collection

from domain.connectors.state import ConnectorState

ADMIN_ROLE = "admin"


def is_admin(roles: Collection[str]) -> bool:
    """True for the tenant's administrators."""
    return ADMIN_ROLE in roles


def can_see(state: ConnectorState, principal_subject: str, groups: Collection[str],
            roles: Collection[str]) -> bool:
    """Whether the caller may read the connector (its document, history and schemas).

    The owner and admins always may. Beyond them: ``org`` scope or ``sharedToOrg`` opens it
    to the whole tenant, ``group`` scope to the members of its group, and an explicit share
    (``sharedUsers``) to that user in any scope. An erased connector has no owner left.
    """
    if is_admin(roles):
        return True
    if not state.exists:
        return False
    if principal_subject == state.owner_id or principal_subject in state.shared_users:
        return True
    if state.scope == "org" or state.shared_to_org:
        return True
    return state.scope == "group" and state.group_id is not None and state.group_id in groups


def can_change(state: ConnectorState, principal_subject: str, groups: Collection[str],
               roles: Collection[str]) -> bool:
    """Whether the caller may change, delete, restore or erase the connector: owner or admin.

    ``groups`` is accepted for symmetry with :func:`can_see`; membership never grants a change.
    """
    del groups
    if is_admin(roles):
        return True
    return state.exists and principal_subject == state.owner_id
