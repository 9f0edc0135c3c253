"""RFC 7396 JSON Merge Patch, as a pure function.

A PATCH of a connector is its merge patch applied to the connector's current document, then
handled exactly like a PUT of the result; so PATCH and PUT cannot disagree about what changed.
"""

from __future__ import annotations

import copy
from typing import Any


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """The result of applying ``patch`` to ``target`` (RFC 7396, section 2).

    An object patch merges key by key: ``null`` removes a key, an object recurses, anything
    else replaces. A patch that is not an object replaces the target whole. Neither argument
    is modified; the result shares nothing with them.
    """
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result
