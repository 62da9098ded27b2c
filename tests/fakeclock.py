"""The tests' ``dlsync.clock.Clock``: time moves only when a test says so.

``advance`` moves it and wakes every sleeper whose time has come; ``waiting`` tells whether some
task sleeps for a given span (a loop of the service idling), so a test advances only once the
service waits on the clock. With ``autoadvance`` every sleep moves the clock by itself at once:
a pacer alone with its clock needs nothing else. Every sleep asked for is kept in ``sleeps``.

``wall`` starts at the real time when the clock is made and moves with ``advance``, so it stays
comparable with the modification times of files the test writes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import anyio
import anyio.lowlevel


@dataclass(slots=True)
class _Sleeper:
    seconds: float
    deadline: float
    woken: anyio.Event


class FakeClock:
    """A ``Clock`` for tests; see the module docstring."""

    def __init__(self, *, autoadvance: bool = False, now: float = 1000.0) -> None:
        self.autoadvance = autoadvance
        self.now = now
        self._start = now
        self._wall_start = time.time()
        self.sleeps: list[float] = []
        self._sleepers: list[_Sleeper] = []

    @property
    def slept(self) -> float:
        """Seconds of every sleep asked for so far."""
        return sum(self.sleeps)

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self._wall_start + (self.now - self._start)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.autoadvance:
            self.now += max(0.0, seconds)
        if self.autoadvance or seconds <= 0:
            await anyio.lowlevel.checkpoint()
            return
        sleeper = _Sleeper(seconds, self.now + seconds, anyio.Event())
        self._sleepers.append(sleeper)
        try:
            await sleeper.woken.wait()
        finally:
            if sleeper in self._sleepers:
                self._sleepers.remove(sleeper)

    def advance(self, seconds: float) -> None:
        """Move time on by ``seconds`` and wake every sleeper whose deadline it reached."""
        self.now += seconds
        for sleeper in list(self._sleepers):
            if sleeper.deadline <= self.now:
                self._sleepers.remove(sleeper)
                sleeper.woken.set()

    def next_deadline(self) -> float | None:
        """When the earliest sleeper wakes, or ``None`` when nobody sleeps."""
        return min((sleeper.deadline for sleeper in self._sleepers), default=None)

    def waiting(self, seconds: float) -> bool:
        """True while some task sleeps a span of ``seconds`` on this clock."""
        return any(sleeper.seconds == seconds for sleeper in self._sleepers)

    def waiting_at_most(self, seconds: float) -> bool:
        """True while some task sleeps a span of at most ``seconds`` on this clock."""
        return any(sleeper.seconds <= seconds for sleeper in self._sleepers)
