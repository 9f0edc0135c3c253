"""The records' key hash is exactly HMAC-SHA256 of the primary key text."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from registry.records import KeyedHash


@given(key=st.binary(min_size=1, max_size=200), text=st.text(max_size=300))
def test_it_is_hmac_sha256_for_any_key_and_text(key: bytes, text: str) -> None:
    keyed = KeyedHash(key)
    expected = hmac.new(key, text.encode(), hashlib.sha256).digest()
    assert keyed(text) == expected
    assert keyed(text) == expected  # the keyed states are copied, never consumed
