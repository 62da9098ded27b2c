"""The pacer under a fake clock: bucket, cap, Retry-After, AIMD, backoff, attempt limits."""

from __future__ import annotations

import email.utils
import random
from collections.abc import Awaitable, Callable

import anyio
import pytest

from dlsync.errors import (
    AmbiguousWriteError,
    BadRequestError,
    RateLimitedError,
    RemoteError,
    ServerError,
    TransportError,
)
from dlsync.remote.pacer import Idempotency, Pacer, PacerSettings, TokenBucket
from dlsync.remote.session import parse_retry_after
from tests.fakeclock import FakeClock


class TopRandom(random.Random):
    """Full jitter always drawing the top of its range."""

    def uniform(self, a: float, b: float) -> float:
        return b


def failing(errors: list[RemoteError]) -> tuple[Callable[[], Awaitable[str]], list[int]]:
    """A send that raises ``errors`` in turn, then returns "ok"; and its call counter."""
    calls = [0]

    async def send() -> str:
        calls[0] += 1
        if errors:
            raise errors.pop(0)
        return "ok"

    return send, calls


def make(clock: FakeClock, **kw: float) -> Pacer:
    return Pacer(PacerSettings(**kw), clock=clock, rng=random.Random(7))


async def test_bucket_spaces_requests_at_rate_after_burst() -> None:
    """25 tokens at 10/s with burst 5 take (25 - 5) / 10 = 2 s, the first 5 with no wait."""
    clock = FakeClock(autoadvance=True)
    bucket = TokenBucket(10.0, 5, clock)
    waits = [await bucket.acquire() for _ in range(25)]
    assert waits[:5] == [0.0] * 5
    assert all(w > 0 for w in waits[5:])
    assert clock.now - 1000.0 == pytest.approx(2.0)


async def test_bucket_refills_up_to_burst_only() -> None:
    """After a long idle time the bucket holds at most ``burst`` tokens."""
    clock = FakeClock(autoadvance=True)
    bucket = TokenBucket(10.0, 3, clock)
    clock.now += 3600
    waits = [await bucket.acquire() for _ in range(4)]
    assert waits[:3] == [0.0] * 3
    assert waits[3] == pytest.approx(0.1)


async def test_concurrency_cap_limits_calls_in_flight() -> None:
    """With concurrency 3, at most 3 sends run at once and all 10 finish."""
    pacer = make(FakeClock(autoadvance=True), rate=1000.0, burst=1000, concurrency=3)
    release = anyio.Event()
    in_flight, peak, done = [0], [0], [0]

    async def send() -> None:
        in_flight[0] += 1
        peak[0] = max(peak[0], in_flight[0])
        await release.wait()
        in_flight[0] -= 1

    async def one() -> None:
        await pacer.call(send, idempotency=Idempotency.SAFE)
        done[0] += 1

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(one)
        await anyio.wait_all_tasks_blocked()
        assert in_flight[0] == 3
        release.set()
    assert peak[0] == 3
    assert done[0] == 10


async def test_retry_after_seconds_is_waited_at_least() -> None:
    """A 429 with Retry-After: 7 is retried after at least 7 s, and counted."""
    clock = FakeClock(autoadvance=True)
    pacer = make(clock)
    send, calls = failing([RateLimitedError("429", retry_after=7.0)])
    assert await pacer.call(send, idempotency=Idempotency.SAFE) == "ok"
    assert calls[0] == 2
    assert clock.slept >= 7.0
    assert pacer.stats().rate_limited == 1
    assert pacer.stats().retries == 1


def test_retry_after_http_date_is_parsed() -> None:
    """Retry-After as an HTTP date means the seconds until that date; delta seconds pass through."""
    now = 1_700_000_000.0
    header = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(header, now=now) == pytest.approx(30.0)
    assert parse_retry_after("12", now=now) == 12.0
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None


async def test_retry_after_holds_every_caller() -> None:
    """After a 429 with Retry-After: 5, the next request of any caller starts 5 s later."""
    clock = FakeClock(autoadvance=True)
    pacer = make(clock, rate=100.0, burst=100)
    send, _ = failing([RateLimitedError("429", retry_after=5.0)])
    start = clock.now
    with pytest.raises(RateLimitedError):
        await pacer.call(send, idempotency=Idempotency.NEVER)
    assert await pacer.call(send, idempotency=Idempotency.SAFE) == "ok"
    assert clock.now - start >= 5.0


async def test_burst_of_429s_halves_rate_once_per_window() -> None:
    """Five concurrent 429s from one overload halve the rate once; a later one halves again."""
    clock = FakeClock(autoadvance=True)
    pacer = make(clock, rate=100.0, burst=100)
    answer = anyio.Event()

    async def overloaded() -> None:
        await answer.wait()
        raise RateLimitedError("429", retry_after=2.0)

    async def one() -> None:
        with pytest.raises(RateLimitedError):
            await pacer.call(overloaded, idempotency=Idempotency.NEVER)

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(one)
        await anyio.wait_all_tasks_blocked()
        answer.set()
    assert pacer.stats().rate_limited == 5
    assert pacer.rate == 50.0
    assert pacer.stats().rate_decreases == 1
    clock.now += 2.5
    send, _ = failing([RateLimitedError("429", retry_after=2.0)])
    with pytest.raises(RateLimitedError):
        await pacer.call(send, idempotency=Idempotency.NEVER)
    assert pacer.rate == 25.0


async def test_rate_recovers_additively_up_to_the_maximum_only() -> None:
    """After a cut, each quiet second of successes adds 10 % of the maximum, never above it."""
    clock = FakeClock(autoadvance=True)
    pacer = make(clock, rate=100.0, burst=100, increase_step=0.1, increase_interval=1.0)
    send, _ = failing([RateLimitedError("429", retry_after=1.0)])
    await pacer.call(send, idempotency=Idempotency.SAFE)
    assert pacer.rate == 50.0
    rates = []
    for _ in range(8):
        clock.now += 1.0
        ok, _ = failing([])
        await pacer.call(ok, idempotency=Idempotency.SAFE)
        rates.append(pacer.rate)
    assert rates[:5] == pytest.approx([60.0, 70.0, 80.0, 90.0, 100.0])
    assert rates[5:] == [100.0] * 3


async def test_rate_never_drops_below_minimum() -> None:
    """Repeated 429s never cut the rate below ``min_rate``."""
    clock = FakeClock(autoadvance=True)
    pacer = make(clock, rate=4.0, burst=4, min_rate=1.0)
    for _ in range(10):
        clock.now += 10
        send, _ = failing([RateLimitedError("429", retry_after=None)])
        with pytest.raises(RateLimitedError):
            await pacer.call(send, idempotency=Idempotency.NEVER)
    assert pacer.rate == 1.0


def test_full_jitter_backoff_bounds() -> None:
    """Backoff after attempt n lies in [0, min(cap, base·2^(n-1))] and reaches that ceiling."""
    settings = PacerSettings(backoff_base=0.5, backoff_cap=8.0)
    top = Pacer(settings, clock=FakeClock(autoadvance=True), rng=TopRandom())
    assert [top.backoff(n) for n in (1, 2, 3, 4, 5, 6, 20)] == [0.5, 1, 2, 4, 8, 8, 8]
    sampled = Pacer(settings, clock=FakeClock(autoadvance=True), rng=random.Random(1))
    draws = [sampled.backoff(3) for _ in range(2000)]
    assert all(0.0 <= d <= 2.0 for d in draws)
    assert min(draws) < 0.2 and max(draws) > 1.8  # the whole range is used


async def test_server_errors_retried_up_to_max_attempts() -> None:
    """A send that always answers 503 is tried exactly ``max_attempts`` times, then raises."""
    pacer = make(FakeClock(autoadvance=True), max_attempts=4)
    send, calls = failing([ServerError("503", status=503) for _ in range(10)])
    with pytest.raises(ServerError):
        await pacer.call(send, idempotency=Idempotency.SAFE)
    assert calls[0] == 4
    assert pacer.stats().server_errors == 4


async def test_total_wait_bounds_retries() -> None:
    """Retries stop once the next wait would exceed ``max_total_wait``."""
    clock = FakeClock(autoadvance=True)
    pacer = Pacer(PacerSettings(max_attempts=100, max_total_wait=10.0, backoff_base=1.0,
                                backoff_cap=4.0), clock=clock, rng=TopRandom())
    send, calls = failing([TransportError("reset") for _ in range(100)])
    with pytest.raises(TransportError):
        await pacer.call(send, idempotency=Idempotency.SAFE)
    assert clock.slept <= 10.0
    assert calls[0] == 4  # waits 1 + 2 + 4 = 7; another 4 would pass 10


@pytest.mark.parametrize(("error", "idempotency"), [
    (ServerError("500", status=500), Idempotency.UNSAFE),
    (AmbiguousWriteError("dropped"), Idempotency.UNSAFE),
    (AmbiguousWriteError("dropped"), Idempotency.SAFE),
    (RateLimitedError("429", retry_after=1.0), Idempotency.NEVER),
    (BadRequestError("400", status=400), Idempotency.SAFE),
])
async def test_calls_that_must_not_be_repeated_are_sent_once(
        error: RemoteError, idempotency: Idempotency) -> None:
    """Non-retryable errors, unsafe calls after possible application and NEVER calls: one send."""
    pacer = make(FakeClock(autoadvance=True))
    send, calls = failing([error])
    with pytest.raises(type(error)):
        await pacer.call(send, idempotency=idempotency)
    assert calls[0] == 1


@pytest.mark.parametrize("error", [RateLimitedError("429", retry_after=0.0),
                                   TransportError("connection refused")])
async def test_unsafe_calls_retried_when_certainly_not_applied(error: RemoteError) -> None:
    """An unsafe call is re-sent after a 429 or a connection that was never made."""
    pacer = make(FakeClock(autoadvance=True))
    send, calls = failing([error])
    assert await pacer.call(send, idempotency=Idempotency.UNSAFE) == "ok"
    assert calls[0] == 2

