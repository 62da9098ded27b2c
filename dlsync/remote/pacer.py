"""The pacer: the one place that decides *when* a request to the remote is sent or re-sent.

One pacer per remote, shared by every worker. It combines

- a token bucket (``rate`` requests per second, ``burst`` tokens) that spaces request starts;
  with no ``rate`` configured (``inf``, the default) it lets every request start until the
  first 429, which sets the rate to half the rate observed then and makes that observed rate
  the ceiling;
- an adaptive concurrency limit (``dlsync.remote.limiter``) that grows while throughput grows
  and shrinks on 429s and rising latency, never above ``concurrency`` requests in flight;
- AIMD on the rate: a 429 halves it (at most once per Retry-After window, so one overload that
  answers a burst of 429s cuts the rate once), and every success window without a 429 adds a
  step of the ceiling back, never above that ceiling;
- retries with exponential backoff and full jitter on 5xx and transport errors, ``Retry-After``
  obeyed (and applied to every caller: the bucket holds until it has passed), bounded by a
  maximum number of attempts and a maximum total wait per request.

The call site decides *whether* a call may be repeated (``Idempotency``); the pacer decides
when, from the error class alone. Operation-level loops (a create looked up before it is posted
again, an annotation post made exactly once, a download resumed with Range) decide whether
themselves and take their waits from a ``RetryBudget`` (``Pacer.retry_budget``): the same
backoff, clock, attempt cap and total-wait budget as a single call.
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from dlsync import constants, logs
from dlsync.clock import Clock, SystemClock
from dlsync.errors import (
    AmbiguousWriteError,
    RateLimitedError,
    RemoteError,
    ServerError,
    TransportError,
)
from dlsync.remote.limiter import AdaptiveLimit, LimitStats, RateMeter

T = TypeVar("T")

log = logs.get_logger(__name__)


class PacerObserver(Protocol):
    """Who hears about every attempt, retry and rate change (``dlsync.metrics.Metrics``)."""

    def observe_request(self, status: int | str) -> None:
        """One attempt ended: its HTTP status, or ``"transport"`` when none came back."""
        ...

    def observe_retry(self) -> None:
        """A failed call is about to be sent again."""
        ...

    def set_rate(self, rate: float) -> None:
        """The paced request rate is now ``rate`` per second."""
        ...


def _status_of(result: object) -> int | str:
    """The HTTP status of a reply or response, or ``"ok"`` for a result that has none."""
    status = getattr(result, "status", None)
    return status if isinstance(status, int) else "ok"


class Idempotency(enum.Enum):
    """What the call site knows about repeating its request.

    ``SAFE``: repeating it cannot change the outcome (GET, PATCH, PUT, upload with mode=skip);
    retried on 429, 5xx and every transport error.
    ``UNSAFE``: a repeat could apply it twice (annotation POST, create); retried only when the
    remote certainly did not apply it: a 429, or a connection that was never established.
    ``NEVER``: the caller handles every failure itself; no retry at all.
    """

    SAFE = "safe"
    UNSAFE = "unsafe"
    NEVER = "never"


@dataclass(frozen=True, slots=True)
class PacerSettings:
    """Limits and tuning of one pacer; defaults from ``dlsync.constants``."""

    rate: float = constants.DEFAULT_RATE
    burst: int = constants.DEFAULT_BURST
    concurrency: int = constants.DEFAULT_CONCURRENCY
    start_concurrency: int = constants.START_CONCURRENCY
    max_attempts: int = constants.MAX_ATTEMPTS
    max_total_wait: float = constants.MAX_TOTAL_WAIT_S
    backoff_base: float = constants.BACKOFF_BASE_S
    backoff_cap: float = constants.BACKOFF_CAP_S
    decrease_factor: float = constants.RATE_DECREASE_FACTOR
    increase_step: float = constants.RATE_INCREASE_STEP
    increase_interval: float = constants.RATE_INCREASE_INTERVAL_S
    decrease_window: float = constants.RATE_DECREASE_WINDOW_S
    min_rate: float = constants.MIN_RATE


@dataclass(frozen=True, slots=True)
class PacerStats:
    """Counters of one pacer since it was made, for metrics and the run summary."""

    current_rate: float
    max_rate: float
    calls: int
    attempts: int
    retries: int
    rate_limited: int
    server_errors: int
    transport_errors: int
    rate_decreases: int
    waited_s: float
    concurrency: LimitStats


def may_retry(exc: RemoteError, idempotency: Idempotency) -> bool:
    """True when ``exc`` from a call with ``idempotency`` may be answered by sending it again."""
    if idempotency is Idempotency.NEVER or isinstance(exc, AmbiguousWriteError):
        return False
    if isinstance(exc, RateLimitedError):
        return True
    if idempotency is Idempotency.UNSAFE:
        return type(exc) is TransportError  # never connected: nothing was sent
    return isinstance(exc, ServerError | TransportError)


class TokenBucket:
    """Spaces request starts at ``rate`` per second with up to ``burst`` back to back.

    Reservations may drive the balance below zero: each caller then sleeps exactly until its own
    token has accrued, so waiters are released one ``1/rate`` apart instead of all at once.
    """

    def __init__(self, rate: float, burst: int, clock: Clock) -> None:
        self.rate = rate
        self._burst = float(max(1, burst))
        self._clock = clock
        self._tokens = self._burst
        self._stamp = clock.monotonic()
        self._hold_until = 0.0

    def hold(self, until: float) -> None:
        """Let no request start before the monotonic time ``until`` (a Retry-After)."""
        self._hold_until = max(self._hold_until, until)

    def set_rate(self, rate: float) -> None:
        """Change the refill rate from now on (``inf``: no spacing at all)."""
        self._refill()
        self.rate = rate
        self._tokens = min(self._tokens, self._burst)

    async def acquire(self) -> float:
        """Wait for one token; return the seconds waited."""
        waited = 0.0
        hold = self._hold_until - self._clock.monotonic()
        if hold > 0:
            await self._clock.sleep(hold)
            waited += hold
        if math.isinf(self.rate):
            return waited
        self._refill()
        self._tokens -= 1.0
        if self._tokens < 0:
            delay = -self._tokens / self.rate
            await self._clock.sleep(delay)
            waited += delay
        return waited

    def _refill(self) -> None:
        now = self._clock.monotonic()
        if math.isinf(self.rate):
            self._tokens = self._burst
        else:
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now


class Pacer:
    """Rate, concurrency and retry policy for every request to one remote."""

    def __init__(self, settings: PacerSettings | None = None, *, clock: Clock | None = None,
                 rng: random.Random | None = None,
                 observer: PacerObserver | None = None) -> None:
        self.settings = settings or PacerSettings()
        self.observer = observer
        """Told of every attempt, retry and rate change; may be set after construction."""
        self._clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._bucket = TokenBucket(self.settings.rate, self.settings.burst, self._clock)
        self._ceiling = self.settings.rate
        """The most the rate is raised back to: the configured rate, else the observed rate
        that drew the first 429."""
        self._limit = AdaptiveLimit(self.settings.start_concurrency, self.settings.concurrency,
                                    self._clock)
        self._started = RateMeter(self._clock)
        self._no_decrease_until = float("-inf")
        self._last_increase = self._clock.monotonic()
        self._counts = {"calls": 0, "attempts": 0, "retries": 0, "rate_limited": 0,
                        "server_errors": 0, "transport_errors": 0, "rate_decreases": 0}
        self._waited = 0.0

    @property
    def rate(self) -> float:
        """The request rate the bucket allows right now."""
        return self._bucket.rate

    @property
    def concurrency(self) -> int:
        """Requests the adaptive limit allows in flight right now."""
        return self._limit.limit

    def stats(self) -> PacerStats:
        """A snapshot of the counters."""
        return PacerStats(current_rate=self.rate, max_rate=self._ceiling,
                          waited_s=self._waited, concurrency=self._limit.stats(),
                          **self._counts)

    async def call(self, send: Callable[[], Awaitable[T]], *, idempotency: Idempotency,
                   what: str = "") -> T:
        """Run ``send`` under the limits, retrying as ``idempotency`` allows; return its result.

        ``send`` must raise ``dlsync.errors.RemoteError`` subclasses for failures. The last
        error is re-raised when attempts or the total wait run out.
        """
        self._counts["calls"] += 1
        budget = self.retry_budget(what)
        while True:
            try:
                return await self._attempt(send)
            except RemoteError as exc:
                if not may_retry(exc, idempotency) or not await budget.wait(exc):
                    raise

    def retry_budget(self, what: str) -> RetryBudget:
        """A fresh budget of attempts and waiting for one retried call or operation."""
        return RetryBudget(self, what)

    def next_delay(self, attempt: int, waited: float,
                   exc: RemoteError | None = None) -> float | None:
        """Seconds to wait after failed ``attempt`` (1-based), or ``None`` when none is left.

        Full-jitter ``backoff``; after a 429 at least its Retry-After (clamped). ``None`` once
        ``attempt`` reaches ``max_attempts`` or the wait would take ``waited`` (the seconds this
        call or operation has already waited) past ``max_total_wait``.
        """
        if attempt >= self.settings.max_attempts:
            return None
        delay = self.backoff(attempt)
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            delay = max(delay, min(exc.retry_after, constants.MAX_RETRY_AFTER_S))
        if waited + delay > self.settings.max_total_wait:
            return None
        return delay

    async def pause(self, delay: float) -> None:
        """Wait ``delay`` seconds on the pacer's clock before a retry, and count the retry."""
        self._counts["retries"] += 1
        if self.observer is not None:
            self.observer.observe_retry()
        self._waited += delay
        await self._clock.sleep(delay)

    async def _attempt(self, send: Callable[[], Awaitable[T]]) -> T:
        await self._limit.acquire()
        rate_limited = False
        started = self._clock.monotonic()
        try:
            self._waited += await self._bucket.acquire()
            self._counts["attempts"] += 1
            started = self._started.tick()
            try:
                result = await send()
            except RemoteError as exc:
                rate_limited = isinstance(exc, RateLimitedError)
                self._notify(exc.status or "transport")
                self._observe_failure(exc)
                raise
        finally:
            self._limit.release(self._clock.monotonic() - started, rate_limited=rate_limited)
        self._notify(_status_of(result))
        self._observe_success()
        return result

    def _notify(self, status: int | str) -> None:
        if self.observer is not None:
            self.observer.observe_request(status)

    def backoff(self, attempt: int) -> float:
        """Full-jitter backoff after failed ``attempt`` (1-based): uniform in [0, base·2^(n-1)]."""
        ceiling = min(self.settings.backoff_cap, self.settings.backoff_base * 2 ** (attempt - 1))
        return self._rng.uniform(0.0, ceiling)

    def _observe_failure(self, exc: RemoteError) -> None:
        if isinstance(exc, RateLimitedError):
            self._counts["rate_limited"] += 1
            self._on_rate_limited(exc.retry_after)
        elif isinstance(exc, ServerError):
            self._counts["server_errors"] += 1
        elif isinstance(exc, TransportError):
            self._counts["transport_errors"] += 1

    def _on_rate_limited(self, retry_after: float | None) -> None:
        """Hold every caller for Retry-After; cut the rate once per Retry-After window."""
        now = self._clock.monotonic()
        window = self.settings.decrease_window
        if retry_after is not None:
            window = max(window, min(retry_after, constants.MAX_RETRY_AFTER_S))
            self._bucket.hold(now + min(retry_after, constants.MAX_RETRY_AFTER_S))
        if now < self._no_decrease_until:
            return
        self._no_decrease_until = now + window
        self._last_increase = now + window
        if math.isinf(self.rate):  # no ceiling yet: the rate that drew this 429 becomes it
            self._ceiling = max(self.settings.min_rate, self._started.rate())
        current = min(self.rate, self._ceiling)
        new_rate = max(self.settings.min_rate, current * self.settings.decrease_factor)
        self._set_rate(new_rate)
        self._counts["rate_decreases"] += 1
        log.warning("remote rate-limited us, rate lowered", rate=round(new_rate, 3),
                    retry_after_s=retry_after)

    def _observe_success(self) -> None:
        """Additive increase: one step of the maximum per quiet interval, capped at the maximum."""
        if self.rate >= self._ceiling:
            return
        now = self._clock.monotonic()
        if now - self._last_increase < self.settings.increase_interval:
            return
        self._last_increase = now
        step = self.settings.increase_step * self._ceiling
        self._set_rate(min(self._ceiling, self.rate + step))

    def _set_rate(self, rate: float) -> None:
        self._bucket.set_rate(rate)
        if self.observer is not None:
            self.observer.set_rate(rate)


class RetryBudget:
    """The attempts and waiting of one retried call or operation, within the pacer's limits.

    The loop that repeats the work decides *whether* a failure deserves another attempt (it
    knows what may have been applied); ``wait`` decides *when*: it sleeps the pacer's
    ``next_delay`` on the pacer's clock, or returns ``False`` at once when the attempt cap or the
    total-wait budget is spent, and the loop re-raises.
    """

    def __init__(self, pacer: Pacer, what: str) -> None:
        self._pacer = pacer
        self.what = what
        self.failures = 0
        """Failed attempts so far."""
        self.waited = 0.0
        """Seconds waited between attempts so far."""

    async def wait(self, exc: RemoteError, **context: object) -> bool:
        """After the failed attempt that raised ``exc``, wait before the next one; ``False``
        (at once) when none is left. ``context`` is added to the "will retry" log event."""
        self.failures += 1
        delay = self._pacer.next_delay(self.failures, self.waited, exc)
        if delay is None:
            return False
        log.warning("remote request failed, will retry", what=self.what, error=str(exc),
                    status=exc.status, attempt=self.failures, retry_in_s=round(delay, 3),
                    **context)
        self.waited += delay
        await self._pacer.pause(delay)
        return True
