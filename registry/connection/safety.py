"""What a remote system said, made safe to store and show: no credential value, no control
character, bounded length."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

MAX_MESSAGE = 500
MIN_SECRET = 3
"""Shorter values are not masked: masking them would garble every message."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
NOT_SECRET = frozenset({"authType", "in", "headerName", "sslmode", "tokenType", "expiresAt",
                        "scope", "tokenUrl", "username", "email", "clientId"})
"""Credential fields that hold no secret (masking them would garble messages)."""


def secret_values(credentials: Mapping[str, Any] | None) -> list[str]:
    """Every string among the credentials, and the forms a server may echo them in (URL
    quoted, an HTTP basic ``user:password`` token), longest first."""
    strings = {k: v for k, v in (credentials or {}).items() if isinstance(v, str)}
    values = [v for k, v in strings.items() if k not in NOT_SECRET]
    pairs = [f"{a}:{b}" for a in strings.values() for b in values if a != b]
    forms = {form for value in values for form in (value, quote(value, safe=""),
                                                   quote_plus(value))}
    forms |= {base64.b64encode(pair.encode()).decode() for pair in pairs}
    return sorted((f for f in forms if len(f) >= MIN_SECRET), key=len, reverse=True)


def safe_message(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret masked as ``***``, control characters as spaces, and at
    most :data:`MAX_MESSAGE` characters."""
    for value in secrets:
        text = text.replace(value, "***")
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
