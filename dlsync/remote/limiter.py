"""Adaptive concurrency: how many requests to one remote are in flight at once.

A fixed number is wrong somewhere: 16 leaves a platform 100 ms away mostly idle (16 requests per
round trip), 64 only queues up behind a platform that serves one request at a time. So the limit
moves, window by window, between 1 and the remote's ``concurrency`` (a hard cap it never
passes), on what the requests themselves show. It climbs a hill:

- **start fast**: from the start until the first step that does not pay (or the first shrink
  or 429), each step up doubles the limit, as TCP's slow start does: a run should not spend
  its first seconds well under what the platform takes. After that the climb is careful:
- **grow** (by a quarter, at least one) while growing pays: after a step up, the next window
  must finish at least 5 % more requests per second than the one before it, or keep latency
  near the lowest seen: within ``NEAR_BASE`` of it, or at most ``QUEUE_TARGET_S`` above it
  (over a long round trip more in flight costs no latency; throughput alone is a noisy
  signal). Otherwise the step is **undone** and the limit stays on that plateau for
  ``PLATEAU_S`` seconds before it probes upwards again (the platform may have more room by
  then);
- **shrink** (by a tenth) when throughput did not rise and latency has climbed to twice the
  lowest seen and more than ``QUEUE_TARGET_S`` above it: the extra requests only wait in a
  queue;
- **cut** (by 30 %) on a 429, at most once a window: the platform said so;
- **hold** when the work, not the limit, bounds what is in flight: a window in which the limit
  was never reached says nothing about the platform.

``QUEUE_TARGET_S`` is a queueing-delay target in the manner of LEDBAT (RFC 6817, whose target is
at most 100 ms): waiting that much longer than the fastest request seen is not the platform
pushing back but the price of keeping it fed, until the platform answers 429 for the first time:
from then on only the relative test counts, as the pacer's rate has no ceiling until then. A
platform a few milliseconds away that is busy on its own CPU (the local gate) serves a fuller
pipeline at less CPU per request on both sides (docs/benchmarks.md, tenth pass), a gain too
small per step for the throughput test to see through the noise of a half-second window;
relative latency alone kept such a limit near 25.

A window closes after ``WINDOW_S`` seconds and at least three times the limit in completed
requests, so a decision rests on enough samples. The lowest latency seen drifts up slowly
(``BASE_DECAY`` a window) so a platform that got slower for good is not compared for ever with
its best moment. The rate bucket of ``dlsync.remote.pacer`` still spaces request starts; this
only bounds overlap.

``RateMeter`` (below) is the pacer's count of request starts per second: the rate a first 429
is measured against when no ``rate`` is configured.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from dataclasses import dataclass

from dlsync import constants, logs
from dlsync.clock import Clock

_log = logs.get_logger(__name__)

WINDOW_S = constants.CONCURRENCY_WINDOW_S
PLATEAU_S = constants.CONCURRENCY_PLATEAU_S
GROWTH = 0.25
SHRINK = 0.9
CUT = 0.7
RISE = 1.05        # a step up must buy 5 % more throughput to be kept...
NEAR_BASE = 1.2    # ...or leave latency within this factor of the lowest seen
QUEUEING = 2.0     # latency at this factor of the lowest seen, throughput flat: shrink
QUEUE_TARGET_S = constants.CONCURRENCY_QUEUE_TARGET_S  # ...unless this close to it
BASE_DECAY = 1.002  # the lowest latency seen drifts up this much per window (doubles in ~3 min)


@dataclass(frozen=True, slots=True)
class LimitStats:
    """The limit now, its cap, and the highest it reached."""

    limit: int
    cap: int
    highest: int


class AdaptiveLimit:
    """A semaphore whose size adapts to throughput, latency and 429s, within ``cap``."""

    def __init__(self, start: int, cap: int, clock: Clock) -> None:
        self.cap = max(1, cap)
        self._limit = float(min(max(1, start), self.cap))
        self._clock = clock
        self.in_flight = 0
        self.highest = int(self._limit)
        # waiters are plain futures of the running asyncio loop (dlsync runs on anyio's asyncio
        # backend): an anyio.Event looks its backend up on every construction, and most
        # requests of a busy run wait here once
        self._waiters: deque[asyncio.Future[None]] = deque()
        now = clock.monotonic()
        self._window_start = now
        self._done = 0
        self._latency_sum = 0.0
        self._limited = False         # the limit was reached during the window
        self._no_cut_until = now
        self._last_throughput = 0.0
        self._base_latency = math.inf
        self._stepped_from: float | None = None  # the limit before the last step up
        self._starting = True                    # steps double until one does not pay
        self._probe_at = now                     # a plateau is left no sooner than this
        self._pushed_back = False                # a 429 came: the queueing target is off

    @property
    def limit(self) -> int:
        """Requests allowed in flight now."""
        return int(self._limit)

    def stats(self) -> LimitStats:
        return LimitStats(self.limit, self.cap, self.highest)

    async def acquire(self) -> None:
        """Wait for a free place under the limit and take it."""
        if self.in_flight >= self.limit or self._waiters:
            self._limited = True
            loop = asyncio.get_running_loop()
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                while True:
                    await waiter
                    if self.in_flight < self.limit:
                        break
                    waiter = loop.create_future()
                    self._waiters.appendleft(waiter)
            except BaseException:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                else:
                    self._wake()  # this waiter was woken: pass the place on
                raise
        self.in_flight += 1
        if self.in_flight >= self.limit:
            self._limited = True

    def release(self, latency: float, *, rate_limited: bool = False) -> None:
        """Give the place back; ``latency`` is how long the request took."""
        self.in_flight -= 1
        self._done += 1
        self._latency_sum += latency
        now = self._clock.monotonic()
        if rate_limited and now >= self._no_cut_until:
            self._cut(now)
        elif now - self._window_start >= WINDOW_S and self._done >= 3 * self.limit:
            self._adapt(now)
        self._wake()

    def _wake(self) -> None:
        free = self.limit - self.in_flight
        while free > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1

    def _cut(self, now: float) -> None:
        before = self.limit
        self._limit = max(1.0, self._limit * CUT)
        self._starting = False
        self._pushed_back = True
        self._no_cut_until = now + WINDOW_S
        self._stepped_from = None
        self._probe_at = now + PLATEAU_S
        _log.info("remote rate-limited us, concurrency lowered", limit=self.limit,
                  before=before)
        self._new_window(now, self._last_throughput)

    def _adapt(self, now: float) -> None:
        elapsed = max(now - self._window_start, 1e-6)
        throughput = self._done / elapsed
        latency = self._latency_sum / max(1, self._done)
        self._base_latency = min(self._base_latency * BASE_DECAY, latency)
        before = self.limit
        if self._limited:
            self._step(now, throughput, latency)
        self.highest = max(self.highest, self.limit)
        if self.limit != before:
            _log.debug("concurrency limit changed", limit=self.limit, before=before,
                       throughput=round(throughput, 1), latency_ms=round(latency * 1000, 1),
                       base_ms=round(self._base_latency * 1000, 1))
        self._new_window(now, throughput)

    def _step(self, now: float, throughput: float, latency: float) -> None:
        """One decision of the hill climb, for a window in which the limit was in use."""
        rising = throughput > self._last_throughput * RISE
        # what waiting in line added to a request is within the target (until a 429)
        short_queue = latency - self._base_latency <= QUEUE_TARGET_S and not self._pushed_back
        cheap = latency <= self._base_latency * NEAR_BASE or short_queue
        stepped_from, self._stepped_from = self._stepped_from, None
        if stepped_from is not None and not rising and not cheap:
            self._limit = stepped_from      # the step bought nothing: undo it, stay a while
            self._probe_at = now + PLATEAU_S
            self._starting = False
        elif not rising and latency >= self._base_latency * QUEUEING and not short_queue:
            self._limit = max(1.0, self._limit * SHRINK)
            self._starting = False
        elif (rising or cheap or now >= self._probe_at) and self._limit < self.cap:
            self._stepped_from = self._limit
            step = self._limit if self._starting else max(1.0, self._limit * GROWTH)
            self._limit = min(float(self.cap), self._limit + step)

    def _new_window(self, now: float, throughput: float) -> None:
        self._last_throughput = throughput
        self._window_start = now
        self._done = 0
        self._latency_sum = 0.0
        self._limited = self.in_flight >= self.limit or bool(self._waiters)


class RateMeter:
    """Request starts per second over the last ``RATE_WINDOW_S``-second window."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._start = clock.monotonic()
        self._count = 0
        self._last = 0.0

    def tick(self) -> float:
        """Count one request start; return the time of it."""
        now = self._clock.monotonic()
        if now - self._start >= constants.RATE_WINDOW_S:
            self._last = self._count / (now - self._start)
            self._start, self._count = now, 0
        self._count += 1
        return now

    def rate(self) -> float:
        """The start rate of the last whole window, or of the current one when higher."""
        elapsed = self._clock.monotonic() - self._start
        current = self._count / elapsed if elapsed > 0.1 else 0.0
        return max(self._last, current)
