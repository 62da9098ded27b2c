"""Random keys that only need to be unique: multipart boundaries and annotation-post keys.

``os.urandom`` is a system call that releases the GIL; on the event loop's thread each release
can mean waiting for the planner thread to give it back, twice per uploaded item. These keys
guard against collisions, not attackers, so they come from the ``random`` module's generator,
which is seeded from the operating system at start-up and again in a forked child.
"""

from __future__ import annotations

import random


def nonce() -> str:
    """32 hex digits (128 random bits)."""
    return f"{random.getrandbits(128):032x}"
