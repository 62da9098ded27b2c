"""Operation-level retries (create, exactly-once annotation post, download resume) wait the
pacer's backoff on the pacer's clock and stop at the pacer's attempt cap and total-wait budget.

The fake clock here (``autoadvance``) records every sleep asked of it and advances at once, so
each test sees exactly which waits the pacer chose without sleeping. ``TopRandom`` makes full
jitter draw the top of its range: with ``backoff_base`` 1 s the waits after failures 1, 2, 3 are
1, 2 and 4 s.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from dlsync.errors import AmbiguousWriteError, RateLimitedError, ServerError, TransportError
from dlsync.gate.faults import FaultSettings
from dlsync.gate.server import RunningGate
from dlsync.remote.client import DataloopClient
from dlsync.remote.credentials import Credentials
from dlsync.remote.pacer import Pacer, PacerSettings
from dlsync.remote.settings import RemoteSettings
from dlsync.remote.types import DatasetJson, ProjectJson
from tests.fakeclock import FakeClock
from tests.remote.conftest import EMAIL, settings_for, unique
from tests.remote.test_client_ops import box, put
from tests.remote.test_pacer import TopRandom

ANNOTATION_ROUTE = "POST /items/{id}/annotations"
PROJECT_ROUTE = "POST /projects"


def pacer_for(settings: RemoteSettings, clock: FakeClock, **kw: Any) -> Pacer:
    """The pacer ``settings`` ask for, with a 1 s backoff base, a burst large enough that the
    bucket never sleeps, the recording clock and top-of-range jitter."""
    limits = dataclasses.replace(settings.pacer_settings(), burst=100_000, backoff_base=1.0,
                                 **kw)
    return Pacer(limits, clock=clock, rng=TopRandom())


@pytest.fixture
def clock() -> FakeClock:
    """A fresh recording clock."""
    return FakeClock(autoadvance=True)


@pytest.fixture
async def slow_client(gate: RunningGate,
                      clock: FakeClock) -> AsyncIterator[DataloopClient]:
    """A gate client with max_attempts 4 whose pacer sleeps on ``clock``."""
    settings = settings_for(gate, max_attempts=4)
    creds = Credentials(gate.mint_token(email=EMAIL, ttl=3600))
    async with DataloopClient(settings, creds, pacer=pacer_for(settings, clock)) as c:
        yield c


def route_count(gate: RunningGate, route: str) -> int:
    """Answers the gate gave on ``route`` (any status)."""
    return sum(gate.stats()["by_route"].get(route, {}).values())


# -- the pacer's side: next_delay and RetryBudget ---------------------------------------------


def test_next_delay_shares_the_attempt_cap_and_total_wait() -> None:
    """next_delay gives full-jitter backoff, ``None`` at ``max_attempts`` or past the budget."""
    pacer = Pacer(PacerSettings(max_attempts=5, max_total_wait=10.0, backoff_base=1.0),
                  clock=FakeClock(autoadvance=True), rng=TopRandom())
    assert [pacer.next_delay(n, 0.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert pacer.next_delay(5, 0.0) is None  # the fifth attempt was the last
    assert pacer.next_delay(3, 6.5) is None  # 6.5 + 4 would pass 10
    assert pacer.next_delay(1, 0.0, RateLimitedError("429", retry_after=7.0)) == 7.0


async def test_retry_budget_sleeps_on_the_pacer_clock_and_counts_retries() -> None:
    """A RetryBudget sleeps each delay on the pacer's clock, counts it as a retry and a wait,
    and refuses at once (no sleep) when the attempt cap is reached."""
    clock = FakeClock(autoadvance=True)
    pacer = Pacer(PacerSettings(max_attempts=3, backoff_base=1.0), clock=clock, rng=TopRandom())
    budget = pacer.retry_budget("an operation")
    error = ServerError("503", status=503)
    assert await budget.wait(error)
    assert await budget.wait(error)
    assert not await budget.wait(error)
    assert clock.sleeps == [1.0, 2.0]
    assert (budget.failures, budget.waited) == (3, 3.0)
    assert pacer.stats().retries == 2
    assert pacer.stats().waited_s == 3.0


# -- creates ------------------------------------------------------------------------------------


async def test_create_backs_off_between_posts_up_to_the_attempt_cap(
        gate: RunningGate, slow_client: DataloopClient, clock: FakeClock) -> None:
    """A project create answered 5xx every time is posted max_attempts (4) times, with the
    pacer's backoff (1, 2, 4 s) between the posts, then the 5xx is raised."""
    gate.set_faults(FaultSettings(fail_rate=1.0, seed=3, routes=(PROJECT_ROUTE,)))
    gate.reset_stats()
    with pytest.raises(ServerError):
        await slow_client.get_project(unique("p"), create=True)
    assert route_count(gate, PROJECT_ROUTE) == 4
    assert clock.sleeps == [1.0, 2.0, 4.0]


async def test_create_after_ambiguous_post_waits_then_finds_it(
        gate: RunningGate, slow_client: DataloopClient, clock: FakeClock) -> None:
    """A create applied but dropped before its reply is looked up after one backoff and not
    posted again: exactly one project of that name exists."""
    name = unique("p")
    gate.set_faults(FaultSettings(drop_rate=1.0, drop_after_share=1.0, seed=3,
                                  routes=(PROJECT_ROUTE,)))
    gate.reset_stats()
    created = await slow_client.get_project(name, create=True)
    gate.set_faults(FaultSettings())
    assert gate.stats()["dropped_after"] == 1
    assert clock.sleeps == [1.0]
    assert (await slow_client.get_project(name))["id"] == created["id"]


async def test_create_stops_when_the_total_wait_budget_is_spent(
        gate: RunningGate, clock: FakeClock) -> None:
    """With max_total_wait 3.5 s the create loop waits 1 + 2 s; a third wait (4 s) would pass
    the budget, so it stops after three posts however many attempts remain."""
    settings = settings_for(gate, max_attempts=10, max_total_wait=3.5)
    creds = Credentials(gate.mint_token(email=EMAIL, ttl=3600))
    async with DataloopClient(settings, creds, pacer=pacer_for(settings, clock)) as client:
        gate.set_faults(FaultSettings(fail_rate=1.0, seed=3, routes=(PROJECT_ROUTE,)))
        gate.reset_stats()
        with pytest.raises(ServerError):
            await client.get_project(unique("p"), create=True)
    assert route_count(gate, PROJECT_ROUTE) == 3
    assert clock.sleeps == [1.0, 2.0]


# -- exactly-once annotation posts --------------------------------------------------------------


async def test_ambiguous_annotation_post_backs_off_before_listing(
        gate: RunningGate, slow_client: DataloopClient, clock: FakeClock,
        project: ProjectJson, tmp_path: Path) -> None:
    """An annotation post applied but dropped waits one backoff, lists the item, finds its
    stamps and posts nothing again: the annotations are there once."""
    dataset = await slow_client.get_dataset(project["id"], unique("ds"), create=True)
    item = await put(slow_client, dataset, tmp_path, "/once.jpg")
    gate.set_faults(FaultSettings(drop_rate=1.0, drop_after_share=1.0, seed=1,
                                  routes=(ANNOTATION_ROUTE,)))
    posted = await slow_client.post_annotations_exactly_once(
        dataset["id"], item["id"], [box("a", 1), box("b", 2)])
    gate.set_faults(FaultSettings())
    assert sorted(a["label"] for a in posted) == ["a", "b"]
    assert gate.stats()["dropped_after"] == 1
    assert clock.sleeps == [1.0]
    listed = [a async for a in slow_client.iter_annotations(dataset["id"], item["id"])]
    assert len(listed) == 2


async def test_annotation_post_never_applied_gives_up_at_the_cap(
        gate: RunningGate, slow_client: DataloopClient, clock: FakeClock,
        dataset: DatasetJson, tmp_path: Path) -> None:
    """Posts dropped before they apply are re-posted max_attempts (4) times in all, with
    backoff between them, then the AmbiguousWriteError is raised; nothing landed."""
    item = await put(slow_client, dataset, tmp_path, "/never.jpg")
    gate.set_faults(FaultSettings(drop_rate=1.0, drop_after_share=0.0, seed=1,
                                  routes=(ANNOTATION_ROUTE,)))
    with pytest.raises(AmbiguousWriteError):
        await slow_client.post_annotations_exactly_once(dataset["id"], item["id"],
                                                        [box("a", 1)])
    gate.set_faults(FaultSettings())
    assert gate.stats()["dropped_before"] == 4
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert [a async for a in slow_client.iter_annotations(dataset["id"], item["id"])] == []


# -- download resume ------------------------------------------------------------------------------


class BreakingStream:
    """A loopback HTTP server for ``GET /api/v1/items/x/stream`` that honours Range and cuts
    the connection mid-body on its first ``breaks`` answers."""

    def __init__(self, data: bytes, breaks: int) -> None:
        self.data = data
        self.breaks = breaks
        self.offsets: list[int] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/api/v1"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                start = self._range_start(head)
                self.offsets.append(start)
                body = self.data[start:]
                status = "206 Partial Content" if start else "200 OK"
                writer.write(f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n"
                             "Content-Type: application/octet-stream\r\n\r\n".encode())
                if len(self.offsets) <= self.breaks:
                    writer.write(body[:len(body) // 2])
                    await writer.drain()
                    return
                writer.write(body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    @staticmethod
    def _range_start(head: str) -> int:
        for line in head.split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "range":
                return int(value.strip().removeprefix("bytes=").split("-")[0])
        return 0


async def test_download_resume_backs_off_between_resumes(clock: FakeClock) -> None:
    """A stream cut mid-body twice is resumed twice, each after the pacer's backoff (1, 2 s);
    the bytes arrive whole and in order."""
    data = bytes(range(256)) * 400
    server = BreakingStream(data, breaks=2)
    async with server as url:
        settings = RemoteSettings(url=url, max_attempts=4)
        async with DataloopClient(settings, Credentials("t"),
                                  pacer=pacer_for(settings, clock)) as client:
            got = b"".join([chunk async for chunk in client.download("x")])
    assert got == data
    assert len(server.offsets) == 3
    assert server.offsets == sorted(server.offsets)
    assert clock.sleeps == [1.0, 2.0]


async def test_download_resume_gives_up_at_the_attempt_cap(clock: FakeClock) -> None:
    """A stream cut every time is tried max_attempts (3) times in all, then TransportError."""
    server = BreakingStream(bytes(100_000), breaks=100)
    async with server as url:
        settings = RemoteSettings(url=url, max_attempts=3)
        async with DataloopClient(settings, Credentials("t"),
                                  pacer=pacer_for(settings, clock)) as client:
            with pytest.raises(TransportError):
                async for _ in client.download("x"):
                    pass
    assert len(server.offsets) == 3
    assert clock.sleeps == [1.0, 2.0]
