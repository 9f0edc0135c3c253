"""Change summaries between two consecutive revisions of a schema, computed with deepdiff.

Fields and relationships are keyed by name before diffing, because deepdiff compares lists by
position. The texts are part of the API contract (see ``docs/history.md``).
"""

from __future__ import annotations

import json
from typing import Any

from deepdiff import DeepDiff

INITIAL = "Initial creation"
ERASED = "Erased"
INHERITED = "inherited"


def comparable(document: dict[str, Any]) -> dict[str, Any]:
    """The parts of a schema document that history talks about, keyed by name."""
    return {
        "name": document["name"],
        "entityType": document["entityType"],
        "fields": {
            f["name"]: {k: f[k] for k in ("type", "primary", "required", "description")}
            for f in document["fields"]
        },
        "relationships": {
            r["name"]: {"target": r["target"], "cardinality": r["cardinality"]}
            for r in document["relationships"]
        },
        "deleted": document["deleted"],
        "compatibility": document.get("compatibility"),
    }


def render(value: Any) -> str:
    """How a value is written in a change text: strings bare, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def compatibility_text(before: str | None, after: str | None) -> str:
    """The text of a changed compatibility mode (``None``: inherited)."""
    return f"Changed compatibility: {before or INHERITED} -> {after or INHERITED}"


def describe_changes(before: dict[str, Any] | None, after: dict[str, Any]) -> list[str]:
    """The change texts that lead from the ``before`` document to the ``after`` one."""
    if before is None:
        return [INITIAL]
    old, new = comparable(before), comparable(after)
    # threshold_to_diff_deeper=0: always report per key, even when most keys differ.
    diff = DeepDiff(old, new, view="tree", threshold_to_diff_deeper=0)
    found: list[tuple[int, int, str]] = []
    for report in ("values_changed", "type_changes", "dictionary_item_added",
                   "dictionary_item_removed"):
        for level in diff.get(report, []):
            found += _describe(report, level.path(output_format="list"), level, old, new)
    found.sort()
    texts: list[str] = []
    for _, _, text in found:
        if text not in texts:
            texts.append(text)
    return texts


def _position(doc: dict[str, Any], section: str, name: str) -> int:
    names = list(doc[section])
    return names.index(name) if name in names else len(names)


def _describe(
    report: str, path: list[Any], level: Any, old: dict[str, Any], new: dict[str, Any]
) -> list[tuple[int, int, str]]:
    head = path[0]
    added = report == "dictionary_item_added"
    removed = report == "dictionary_item_removed"
    if head == "name":
        return [(0, 0, f"Renamed schema: {render(level.t1)} -> {render(level.t2)}")]
    if head == "entityType":
        return [(1, 0, f"Changed entity type: {render(level.t1)} -> {render(level.t2)}")]
    if head == "deleted":
        return [(8, 0, "Deleted" if level.t2 else "Restored")]
    if head == "compatibility":
        return [(7, 0, compatibility_text(level.t1, level.t2))]
    name = path[1]
    if head == "fields":
        if removed:
            return [(2, _position(old, "fields", name), f"Removed field: {name}")]
        if added:
            return [(3, _position(new, "fields", name), f"Added field: {name}")]
        attribute = path[2]
        text = f"Changed field {name}: {attribute} {render(level.t1)} -> {render(level.t2)}"
        order = ("type", "primary", "required", "description").index(attribute)
        return [(4, _position(new, "fields", name) * 4 + order, text)]
    # Relationships: a changed one is reported as removed and added again.
    texts = []
    if not added:
        texts.append((5, _position(old, "relationships", name), f"Removed relationship: {name}"))
    if not removed:
        texts.append((6, _position(new, "relationships", name), f"Added relationship: {name}"))
    return texts
