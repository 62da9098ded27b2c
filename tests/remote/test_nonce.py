"""Keys for multipart boundaries and annotation posts: 128 bits as 32 hex digits, not reused."""

from __future__ import annotations

import re

from dlsync.remote.nonce import nonce


def test_nonces_are_hex_and_distinct() -> None:
    keys = [nonce() for _ in range(10_000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", key) for key in keys)
    assert len(set(keys)) == len(keys)
