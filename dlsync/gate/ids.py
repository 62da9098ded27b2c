"""Dataloop-shaped entity ids: 24 lowercase hex digits that sort in creation order.

An id is a 96-bit number: the creation time in whole seconds in the top 32 bits and a counter in
the low 64. Each new id is the larger of ``seconds << 64`` and the previous id plus one, so ids
never repeat, even many within one second, and a generator seeded with the highest stored id keeps
increasing across restarts (and across a clock that steps back).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

ID_HEX_DIGITS = 24
_COUNTER_BITS = 64


class IdGenerator:
    """Hands out strictly increasing ids; thread-safe."""

    def __init__(self, last_id: str | None = None, clock: Callable[[], float] = time.time) -> None:
        self._last = int(last_id, 16) if last_id else 0
        self._clock = clock
        self._lock = threading.Lock()

    def next_id(self) -> str:
        """A new id, larger than every id handed out before (or ``last_id``)."""
        with self._lock:
            self._last = max(int(self._clock()) << _COUNTER_BITS, self._last + 1)
            return f"{self._last:0{ID_HEX_DIGITS}x}"

