"""The adaptive concurrency limit under a fake clock, against modelled platforms.

Each test drives time itself: whenever every task waits, the clock moves on by ``TICK_S``.
A "network" platform answers every request after a fixed round trip (more in flight, more done);
a "busy" one serves one request at a time, so its latency grows with what is in flight while
its throughput stays flat (slowly: well past the queueing target; quickly: a few milliseconds,
within it); a "quota" one answers 429 above a number of requests in flight.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable

import anyio
import pytest

from dlsync.errors import RateLimitedError
from dlsync.remote.limiter import AdaptiveLimit
from dlsync.remote.pacer import Idempotency, Pacer, PacerSettings
from tests.fakeclock import FakeClock

TICK_S = 0.005
"""How far the clock moves each time every task waits."""

Latency = Callable[[int], float]
"""Seconds one request takes when ``n`` requests are in flight."""


class Platform:
    """A modelled remote: counts what is in flight and answers after ``latency(in_flight)``."""

    def __init__(self, clock: FakeClock, latency: Latency, quota: int | None = None) -> None:
        self.clock = clock
        self.latency = latency
        self.quota = quota
        self.in_flight = 0
        self.peak = 0
        self.done = 0
        self.refused = 0

    async def send(self) -> str:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            if self.quota is not None and self.in_flight > self.quota:
                self.refused += 1
                await self.clock.sleep(0.001)
                raise RateLimitedError("429", status=429, retry_after=None)
            await self.clock.sleep(self.latency(self.in_flight))
            self.done += 1
            return "ok"
        finally:
            self.in_flight -= 1


async def drive(clock: FakeClock, pacer: Pacer, platform: Platform, *, callers: int,
                seconds: float, seen: list[int] | None = None) -> None:
    """``callers`` tasks call ``platform`` through ``pacer`` until ``seconds`` have passed."""
    end = clock.now + seconds

    async def caller() -> None:
        while clock.now < end:
            try:
                await pacer.call(platform.send, idempotency=Idempotency.NEVER)
            except RateLimitedError:
                pass

    async with anyio.create_task_group() as tg:
        for _ in range(callers):
            tg.start_soon(caller)
        while True:
            await settle()
            if clock.now >= end and clock.next_deadline() is None:
                break
            clock.advance(TICK_S)
            if seen is not None:
                seen.append(pacer.concurrency)


async def settle() -> None:
    """Return once every other task waits (``anyio.wait_all_tasks_blocked`` without its
    real 0.1 s sleeps between looks)."""
    me = asyncio.current_task()
    while True:
        await asyncio.sleep(0)
        if all(task is me or _waits(task) for task in asyncio.all_tasks()):
            return


def _waits(task: asyncio.Task[object]) -> bool:
    waiter = getattr(task, "_fut_waiter", None)
    return waiter is not None and not waiter.done()


def pacer_for(clock: FakeClock, *, cap: int, start: int = 16) -> Pacer:
    settings = PacerSettings(concurrency=cap, start_concurrency=start, max_attempts=1)
    return Pacer(settings, clock=clock, rng=random.Random(3))


async def test_limit_grows_to_the_cap_over_a_slow_network() -> None:
    """A 100 ms round trip: throughput follows what is in flight, so the limit climbs to the
    cap, and never past it."""
    clock = FakeClock()
    platform = Platform(clock, lambda _n: 0.1)
    pacer = pacer_for(clock, cap=64)
    seen: list[int] = []
    await drive(clock, pacer, platform, callers=80, seconds=5.0, seen=seen)
    assert pacer.stats().concurrency.highest == 64
    assert pacer.concurrency == 64
    assert platform.peak == 64
    # the start doubles: 16, 32, 64, one window each (half a second, and three times the
    # limit in answers); a quarter at a time it took six steps
    assert seen.index(64) * TICK_S <= 1.6
    assert platform.done > 0.8 * 640 * 5


async def test_limit_stays_low_when_more_in_flight_only_queues() -> None:
    """One request at a time, 20 ms each: throughput is 50/s whatever is in flight, and every
    request more in flight adds 20 ms of waiting, so a step of a quarter soon adds more than
    the queueing target. The limit does not run to the cap; it settles low."""
    clock = FakeClock()
    platform = Platform(clock, lambda n: 0.02 * n)
    pacer = pacer_for(clock, cap=64)
    seen: list[int] = []
    await drive(clock, pacer, platform, callers=70, seconds=20.0, seen=seen)
    assert pacer.stats().concurrency.highest < 64
    late = seen[len(seen) // 2:]
    assert max(late) <= 32
    assert platform.done > 0.9 * 50 * 20


async def test_limit_grows_through_a_few_milliseconds_of_queueing() -> None:
    """One request at a time, 1 ms each: throughput is flat, but even the cap's 64 in flight
    wait under 70 ms, within the queueing target: that is the price of keeping the platform
    fed, not push-back. The limit climbs to the cap and stays there, and never passes it."""
    clock = FakeClock()
    platform = Platform(clock, lambda n: 0.001 * n)
    pacer = pacer_for(clock, cap=64)
    seen: list[int] = []
    await drive(clock, pacer, platform, callers=70, seconds=10.0, seen=seen)
    assert platform.peak == 64
    assert seen[len(seen) // 2:] == [64] * (len(seen) - len(seen) // 2)
    assert platform.done > 0.9 * 1000 * 10


async def test_429s_cut_the_limit_below_the_quota() -> None:
    """A platform that refuses more than 10 requests in flight: the limit ends near 10, and
    the refusals stop being most of the traffic."""
    clock = FakeClock()
    platform = Platform(clock, lambda _n: 0.05, quota=10)
    pacer = pacer_for(clock, cap=64)
    await drive(clock, pacer, platform, callers=70, seconds=20.0)
    assert pacer.concurrency <= 16
    assert platform.refused < platform.done


async def test_the_cap_is_a_hard_bound_whatever_the_signals() -> None:
    """With a start above the cap and ever-rising throughput, nothing exceeds the cap."""
    clock = FakeClock()
    platform = Platform(clock, lambda _n: 0.02)
    pacer = pacer_for(clock, cap=5, start=50)
    await drive(clock, pacer, platform, callers=40, seconds=5.0)
    assert platform.peak == 5
    assert pacer.stats().concurrency.highest == 5


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    """A caller cancelled while it waits leaves the queue; the place goes to the next one."""
    clock = FakeClock()
    limit = AdaptiveLimit(1, 1, clock)
    await limit.acquire()
    got: list[str] = []
    scopes: dict[str, anyio.CancelScope] = {}

    async def waiter(name: str) -> None:
        with anyio.CancelScope() as scope:
            scopes[name] = scope
            await limit.acquire()
            got.append(name)

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter, "first")
        await settle()
        tg.start_soon(waiter, "second")
        await settle()
        scopes["first"].cancel()
        await settle()
        limit.release(0.01)
        await settle()
    assert got == ["second"]
    assert limit.in_flight == 1


async def test_first_429_without_a_rate_sets_half_the_observed_rate() -> None:
    """No ``rate`` configured: nothing is spaced until a 429; then the paced rate is half the
    rate the requests were starting at, and that rate becomes the ceiling."""
    clock = FakeClock(autoadvance=True)
    pacer = Pacer(PacerSettings(max_attempts=1), clock=clock, rng=random.Random(1))
    assert math.isinf(pacer.rate)

    async def ok() -> str:
        await clock.sleep(0.01)   # one at a time: 100 requests per second
        return "ok"

    for _ in range(300):
        await pacer.call(ok, idempotency=Idempotency.SAFE)

    async def refused() -> str:
        raise RateLimitedError("429", status=429, retry_after=None)

    with pytest.raises(RateLimitedError):
        await pacer.call(refused, idempotency=Idempotency.NEVER)
    assert pacer.rate == pytest.approx(50.0, rel=0.1)
    assert pacer.stats().max_rate == pytest.approx(100.0, rel=0.1)
