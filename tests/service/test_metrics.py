"""The running service's Prometheus endpoint."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from dlsync.gate.server import RunningGate
from tests.eventually import eventually
from tests.service.conftest import Platform, running, write_config


def _samples(text: str) -> dict[str, float]:
    """Every sample line of a Prometheus exposition, by metric name with labels."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found


async def test_running_service_serves_its_metrics(tmp_path: Path, gate: RunningGate,
                                                  source: Path, platform: Platform) -> None:
    """Queue depth, actions, bytes, requests by status, rate and pending age are scraped."""
    config = write_config(tmp_path, gate, source,
                          service={"metrics": True, "metrics_address": "127.0.0.1:0"})
    async with running(config) as daemon:
        (source / "a.txt").write_bytes(b"12345")
        await platform.wait_for(lambda found: "/a.txt" in found)
        await eventually(lambda: daemon.counters.synced >= 1)  # counted once the batch ended
        assert daemon.metrics_url is not None
        url = daemon.metrics_url

        async def idle_scrape() -> dict[str, float] | None:
            """The scrape once the queue is empty (a second watcher event for the same write
            may still wait for its own, empty, batch)."""
            async with aiohttp.ClientSession() as session, session.get(url) as reply:
                assert reply.status == 200
                found = _samples(await reply.text())
            return found if found["dlsync_queue_depth"] == 0 else None

        samples = await eventually(idle_scrape)
    assert samples["dlsync_queue_depth"] == 0
    assert samples['dlsync_actions_total{kind="upload",outcome="done"}'] == 1
    assert samples["dlsync_uploaded_bytes_total"] == 5
    assert samples['dlsync_requests_total{status="200"}'] >= 3
    assert samples['dlsync_request_rate{remote="x"}'] > 0
    assert samples["dlsync_oldest_pending_age_seconds"] == 0


async def test_metrics_are_off_by_default(tmp_path: Path, gate: RunningGate, source: Path,
                                          platform: Platform) -> None:
    """Without ``[service] metrics = true`` nothing listens."""
    async with running(write_config(tmp_path, gate, source)) as daemon:
        assert daemon.metrics_url is None
