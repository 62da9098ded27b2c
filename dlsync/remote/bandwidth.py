"""``Bandwidth``: one byte budget per remote, shared by every upload and download (``bwlimit``).

A token bucket in bytes, kept as the time at which the bytes already granted will have been
paid for (GCRA): ``take(n)`` books ``n / rate`` seconds after the previous booking and sleeps
until its own booking ends, so callers are served in the order they asked and the bytes moved
over any stretch of time stay within ``rate`` of it. An idle budget gathers at most
``BANDWIDTH_BURST_S`` seconds' worth; a new one starts empty (as rclone's does), so a transfer
does not open with a burst above the limit.
"""

from __future__ import annotations

from dlsync import constants
from dlsync.clock import Clock, SystemClock


class Bandwidth:
    """Bytes per second for one remote; ``rate`` ``None`` means no limit."""

    def __init__(self, rate: float | None, *, clock: Clock | None = None) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(f"a bandwidth limit must be positive, got {rate}")
        self.rate = rate
        self._clock = clock or SystemClock()
        self._paid_until = self._clock.monotonic()

    async def take(self, size: int) -> None:
        """Wait until ``size`` more bytes may move to or from the remote."""
        if self.rate is None or size <= 0:
            return
        now = self._clock.monotonic()
        start = max(self._paid_until, now - constants.BANDWIDTH_BURST_S)
        self._paid_until = start + size / self.rate
        if self._paid_until > now:
            await self._clock.sleep(self._paid_until - now)
