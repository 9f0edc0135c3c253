"""Which events turn one connector document into another: the heart of PUT and PATCH.

Both sides are editable documents (camelCase, no credentials) as ``ConnectorState.editable``
returns them; the result is an ordered list of (event class, payload) pairs, empty when
nothing changed. Keeping this pure keeps the aggregate's commands short and testable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.connectors import events as ev
from domain.connectors.state import SCALAR_FIELDS

Change = tuple[type[ev.ConnectorEvent], dict[str, Any]]


def plan_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """The events from ``old`` to ``new``, in a stable order (the order history shows)."""
    changes: list[Change] = []
    if old["name"] != new["name"]:
        changes.append((ev.Renamed, {"old": old["name"], "new": new["name"]}))
    changes += _scope_and_owner(old, new)
    changes += _config_changes(old["config"], new["config"])
    if old["enabled"] != new["enabled"]:
        changes.append((ev.Enabled if new["enabled"] else ev.Disabled, {}))
    changes += _sharing_changes(old["sharedUsers"], new["sharedUsers"])
    changes += _tag_changes(old["tags"], new["tags"])
    changes += [
        (ev.FieldChanged, {"field": wire, "old": old[wire], "new": new[wire]})
        for wire in SCALAR_FIELDS
        if old[wire] != new[wire]
    ]
    return changes


def _scope_and_owner(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    changes: list[Change] = []
    if old["scope"] != new["scope"]:
        changes.append((ev.ScopeChanged, {"old": old["scope"], "new": new["scope"]}))
    if new["ownerId"] is not None and old["ownerId"] != new["ownerId"]:
        changes.append((ev.OwnerChanged, {"old": old["ownerId"], "new": new["ownerId"]}))
    return changes


def _config_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    changes: list[Change] = [(ev.ConfigKeyRemoved, {"key": k}) for k in old if k not in new]
    for key, value in new.items():
        if key not in old:
            changes.append((ev.ConfigKeyAdded, {"key": key, "value": value}))
        elif old[key] != value:
            changes.append((ev.ConfigKeyChanged, {"key": key, "old": old[key], "new": value}))
    return changes


def _sharing_changes(old: list[str], new: list[str]) -> list[Change]:
    removed: list[Change] = [(ev.UnsharedWithUser, {"user": u}) for u in old if u not in new]
    added: list[Change] = [(ev.SharedWithUser, {"user": u}) for u in new if u not in old]
    return removed + added


def _tag_changes(old: Mapping[str, str], new: Mapping[str, str]) -> list[Change]:
    # A changed value is a removal and an addition, as relationships are for schemas: history
    # then needs only two tag texts, and neither shows a value.
    removed: list[Change] = [
        (ev.TagRemoved, {"key": k}) for k, v in old.items() if new.get(k) != v
    ]
    added: list[Change] = [
        (ev.TagAdded, {"key": k, "value": v}) for k, v in new.items() if old.get(k) != v
    ]
    return removed + added
