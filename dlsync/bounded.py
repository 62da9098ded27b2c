"""Reading a whole small file under a size limit, without allocating the limit.

``file.read(limit + 1)`` is the obvious way to read at most ``limit`` bytes and notice a larger
file, but CPython allocates the whole request up front: with a 64 MiB limit every read of a
1 KiB annotation file maps and unmaps 64 MiB. ``read_up_to`` asks for what ``fstat`` says is
there (plus one byte, to see the end), then reads on in small pieces only if there is more.
"""

from __future__ import annotations

import os
import stat

_FOLLOW_UP = 1 << 16
"""What each read after the first asks for: below the allocator's mmap threshold."""
READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0)
"""``os.open`` flags for reading a file whole: binary where the platform has the flag. Read
once here; a missing attribute looked up per file costs an exception each time."""


def read_up_to(fd: int, limit: int, st: os.stat_result | None = None) -> bytes:
    """The rest of ``fd`` from its position, or its first ``limit + 1`` bytes when there are
    more than ``limit`` (so the caller can refuse the file). ``st`` is ``fd``'s ``fstat`` when
    the caller already has it. ``OSError`` passes through.

    A regular file's read that returns less than it asked for has met the end, so a small file
    costs one read; a pipe (or anything else) is read until a read returns nothing."""
    st = st or os.fstat(fd)
    regular = stat.S_ISREG(st.st_mode)
    left = limit + 1
    ask = min(st.st_size + 1, left)
    parts: list[bytes] = []
    while left > 0:
        piece = os.read(fd, ask)
        if not piece:
            break
        parts.append(piece)
        left -= len(piece)
        if regular and len(piece) < ask:
            break
        ask = min(left, _FOLLOW_UP)
    return parts[0] if len(parts) == 1 else b"".join(parts)
