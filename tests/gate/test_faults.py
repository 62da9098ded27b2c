"""Fault injection: 429 with Retry-After, 5xx that apply nothing, latency, drops, admin API."""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
import pytest
from yarl import URL

from dlsync.gate.faults import FaultSettings, TokenBucket
from dlsync.gate.server import GateOptions, RunningGate
from tests.conftest import GateFactory
from tests.eventually import eventually
from tests.gate.conftest import GateApi


async def _session(gate: RunningGate) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(headers={"Authorization": f"Bearer {gate.mint_token()}"})


async def test_rate_limit_answers_429_with_retry_after(gate_factory: GateFactory) -> None:
    """Over the rate limit the gate answers 429 with an integer Retry-After of at least 1."""
    gate = await gate_factory(GateOptions(faults=FaultSettings(rate_limit=2)))
    statuses, retry_after = [], []
    async with await _session(gate) as session:
        for _ in range(6):
            async with session.get(gate.url + "/users/me") as response:
                statuses.append(response.status)
                if response.status == 429:
                    retry_after.append(int(response.headers["Retry-After"]))
                    assert (await response.json())["status"] == 429
    assert statuses[:2] == [200, 200]
    assert 429 in statuses and all(r >= 1 for r in retry_after)
    assert gate.stats()["by_status"]["429"] == statuses.count(429)


def test_token_bucket_allows_burst_then_refills() -> None:
    """A bucket of rate r lets max(1, r) requests through at once, then asks to wait."""
    bucket = TokenBucket(3.0)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() > 0


async def test_fail_rate_answers_5xx_and_applies_nothing(gate_factory: GateFactory) -> None:
    """With fail_rate=1 every request gets 500/502/503 JSON and no project is created."""
    gate = await gate_factory(GateOptions(faults=FaultSettings(fail_rate=1.0, seed=7)))
    async with await _session(gate) as session:
        for _ in range(5):
            async with session.post(gate.url + "/projects", data={"name": "x"}) as response:
                assert response.status in (500, 502, 503)
                assert (await response.json())["status"] == response.status
    assert gate.store.projects() == []


async def test_fail_first_fails_each_request_its_first_attempts(
        gate_factory: GateFactory) -> None:
    """fail_first=2: each method + path gets 503, 503, then its answer; paths count apart."""
    gate = await gate_factory(GateOptions(faults=FaultSettings(fail_first=2)))
    async with await _session(gate) as session:
        api = GateApi(session, gate.url)
        me = [(await api.call("GET", "/users/me"))[0] for _ in range(4)]
        projects = [(await api.call("GET", "/projects"))[0] for _ in range(3)]
    assert me == [503, 503, 200, 200]
    assert projects == [503, 503, 200]
    assert gate.stats()["by_status"] == {"503": 4, "200": 3}


async def test_fail_first_counts_uploads_per_path_under_concurrency(
        gate_factory: GateFactory) -> None:
    """Uploads share one URL; the schedule tells them apart by path, however they interleave."""
    gate = await gate_factory(GateOptions())
    async with await _session(gate) as session:
        api = GateApi(session, gate.url)
        dataset_id = await api.new_dataset("scheduled")
        gate.set_faults(FaultSettings(fail_first=2, routes=("POST /datasets/{id}/items",)))

        async def until_stored(path: str) -> list[int]:
            statuses: list[int] = []
            while not statuses or statuses[-1] != 200:
                statuses.append((await api.upload(dataset_id, path))[0])
            return statuses

        paths = [f"/s/{n:02d}.jpg" for n in range(12)]
        runs = await asyncio.gather(*(until_stored(p) for p in paths))
        folder_statuses = [(await api.call("POST", f"/datasets/{dataset_id}/items",
                                           data={"type": "dir", "path": "/made"}))[0]
                           for _ in range(3)]
    assert runs == [[503, 503, 200]] * len(paths)
    assert folder_statuses == [503, 503, 200]
    listed = gate.store.query_items(dataset_id, {"filter": {"$and": [{"type": "file"}]}})
    assert sorted(i["filename"] for i in listed.entities) == paths


async def test_fail_first_starts_counting_afresh_when_set(gate_factory: GateFactory) -> None:
    """Setting the faults again (with or without fail_first) restarts every request's count."""
    gate = await gate_factory(GateOptions(faults=FaultSettings(fail_first=1)))
    async with await _session(gate) as session:
        api = GateApi(session, gate.url)
        before = [(await api.call("GET", "/users/me"))[0] for _ in range(2)]
        gate.set_faults(FaultSettings(fail_first=1))
        after = [(await api.call("GET", "/users/me"))[0] for _ in range(2)]
    assert before == after == [503, 200]


async def test_latency_is_added_before_handling(gate_factory: GateFactory) -> None:
    """latency_ms delays each answer by at least that long."""
    gate = await gate_factory(GateOptions(faults=FaultSettings(latency_ms=150)))
    async with await _session(gate) as session:
        started = time.monotonic()
        async with session.get(gate.url + "/users/me") as response:
            assert response.status == 200
        assert time.monotonic() - started >= 0.15


@pytest.mark.parametrize(("share", "applied"), [(0.0, False), (1.0, True)],
                         ids=["before", "after"])
async def test_drop_closes_connection_and_applies_only_after(
    gate_factory: GateFactory, share: float, applied: bool
) -> None:
    """A dropped request gets no answer; dropped after applying, its write is really there."""
    gate = await gate_factory(GateOptions(faults=FaultSettings(
        drop_rate=1.0, drop_after_share=share, routes=("POST /projects",))))
    async with await _session(gate) as session:
        with pytest.raises(aiohttp.ClientError):
            async with session.post(gate.url + "/projects", data={"name": "dropped"}) as r:
                await r.read()
    assert bool(gate.store.projects(name="dropped")) is applied
    stats = gate.stats()
    assert stats["dropped_after" if applied else "dropped_before"] == 1


async def test_faults_change_at_runtime_through_admin_endpoint(api: GateApi) -> None:
    """POST /__gate__/faults changes the named fields only; admin calls skip faults and stats."""
    root = api.url.removesuffix("/api/v1")
    before = await api.ok("GET", "/__gate__/faults")
    assert before["fail_rate"] == 0.0
    changed = await api.ok("POST", "/__gate__/faults",
                           json={"fail_rate": 1.0, "routes": ["GET /users/me"]})
    assert changed["fail_rate"] == 1.0 and changed["latency_ms"] == 0.0
    status, _ = await api.call("GET", "/users/me")
    assert status in (500, 502, 503)
    async with api.session.get(root + "/__gate__/stats") as response:
        stats = await response.json()
    assert stats["by_route"]["GET /users/me"] != {}
    assert not any("__gate__" in key for key in stats["by_route"])
    await api.ok("POST", "/__gate__/faults", json={"fail_rate": 0.0})
    assert (await api.call("GET", "/users/me"))[0] == 200


async def test_admin_sets_the_fault_schedule(api: GateApi) -> None:
    """POST /__gate__/faults takes fail_first; the next attempts of a request follow it."""
    changed = await api.ok("POST", "/__gate__/faults",
                           json={"fail_first": 1, "routes": ["GET /users/me"]})
    assert changed["fail_first"] == 1
    statuses = [(await api.call("GET", "/users/me"))[0] for _ in range(2)]
    await api.ok("POST", "/__gate__/faults", json={"fail_first": 0, "routes": []})
    assert statuses == [503, 200]


async def test_admin_rejects_unknown_or_invalid_settings(api: GateApi) -> None:
    """Unknown fault names and out-of-range values are refused with 400 and change nothing."""
    for body in ({"fail_rat": 1}, {"fail_rate": 2.0}, {"seed": "x"}, {"fail_first": -1},
                 {"fail_first": 1.5}, {"fail_first": True}):
        status, answer = await api.call("POST", "/__gate__/faults", json=body)
        assert status == 400 and answer["message"]
    settings = await api.ok("GET", "/__gate__/faults")
    assert settings["fail_rate"] == 0.0 and settings["fail_first"] == 0


async def test_stats_count_by_route_and_status_and_reset(api: GateApi, gate: RunningGate) -> None:
    """Stats count answers per route key and status; reset starts from zero."""
    gate.reset_stats()
    await api.call("GET", "/users/me")
    await api.call("GET", "/projects/000000000000000000000000")
    stats = await api.ok("GET", "/__gate__/stats")
    assert stats["total"] == 2
    assert stats["by_route"]["GET /projects/{id}"] == {"404": 1}
    assert stats["by_status"] == {"200": 1, "404": 1}
    await api.ok("POST", "/__gate__/stats/reset")
    assert gate.stats()["total"] == 0


async def test_client_gone_mid_body_is_counted_not_traced(
        gate: RunningGate, caplog: pytest.LogCaptureFixture) -> None:
    """A client that closes its connection halfway through a body: the gate counts the request
    as 499, logs no traceback (one per request filled an unread output pipe), keeps serving."""
    gate.reset_stats()
    url = URL(gate.url)
    _, writer = await asyncio.open_connection(url.host, url.port)
    writer.write((f"POST {url.path}/projects HTTP/1.1\r\nHost: {url.host}\r\n"
                  f"Authorization: Bearer {gate.mint_token()}\r\n"
                  "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                  '{"name": "half').encode())
    await writer.drain()
    await asyncio.sleep(0.05)   # the handler is reading the body when the connection goes
    writer.close()
    await writer.wait_closed()
    await eventually(lambda: gate.stats()["by_status"].get("499") == 1)
    assert gate.stats()["by_route"]["POST /projects"] == {"499": 1}
    assert not [r for r in caplog.records if r.name.startswith("aiohttp")
                and r.levelno >= logging.WARNING], caplog.text
    async with await _session(gate) as session, session.get(gate.url + "/users/me") as r:
        assert r.status == 200
