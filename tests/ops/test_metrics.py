"""The metrics endpoint: Prometheus text over HTTP on loopback, fed by calls and by the pacer."""

from __future__ import annotations

import aiohttp
import pytest
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from dlsync.errors import ConfigError
from dlsync.gate.faults import FaultSettings
from dlsync.gate.server import RunningGate
from dlsync.metrics import Metrics, split_address
from dlsync.remote.client import DataloopClient
from dlsync.remote.credentials import Credentials
from dlsync.remote.settings import RemoteSettings

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample of a text exposition, keyed by (name, sorted labels)."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


async def scrape(url: str) -> tuple[str, Samples]:
    """GET the endpoint; (content type, samples)."""
    async with aiohttp.ClientSession() as session, session.get(url) as reply:
        assert reply.status == 200
        return reply.headers["Content-Type"], parse(await reply.text())


async def test_endpoint_serves_every_counter_after_the_calls() -> None:
    """GET /metrics on a loopback port shows exactly what the methods recorded."""
    metrics = Metrics()
    server = await metrics.serve("127.0.0.1:0")
    try:
        metrics.observe_action("upload", "done")
        metrics.observe_action("upload", "done")
        metrics.observe_action("move", "failed")
        metrics.add_bytes(1500)
        metrics.observe_request(200)
        metrics.observe_request(429)
        metrics.observe_request("transport")
        metrics.observe_retry()
        metrics.set_queue_depth(7)
        metrics.set_rate(12.5)
        metrics.set_oldest_pending_age(42.0)
        metrics.set_conflicts(2)
        assert server.url.startswith("http://127.0.0.1:")
        content_type, samples = await scrape(server.url)
    finally:
        await server.close()
    assert content_type == CONTENT_TYPE_LATEST
    assert samples[("dlsync_actions_total", (("kind", "upload"), ("outcome", "done")))] == 2
    assert samples[("dlsync_actions_total", (("kind", "move"), ("outcome", "failed")))] == 1
    assert samples[("dlsync_uploaded_bytes_total", ())] == 1500
    assert samples[("dlsync_requests_total", (("status", "200"),))] == 1
    assert samples[("dlsync_requests_total", (("status", "429"),))] == 1
    assert samples[("dlsync_requests_total", (("status", "transport"),))] == 1
    assert samples[("dlsync_retries_total", ())] == 1
    assert samples[("dlsync_queue_depth", ())] == 7
    assert samples[("dlsync_request_rate", (("remote", "default"),))] == 12.5
    assert samples[("dlsync_oldest_pending_age_seconds", ())] == 42.0
    assert samples[("dlsync_conflicts", ())] == 2


async def test_other_paths_are_not_found() -> None:
    """Only /metrics is served."""
    metrics = Metrics()
    server = await metrics.serve("127.0.0.1:0")
    try:
        async with aiohttp.ClientSession() as session, \
                session.get(server.url.replace("/metrics", "/")) as reply:
            assert reply.status == 404
    finally:
        await server.close()


def test_each_metrics_object_has_its_own_registry() -> None:
    """Two Metrics objects never share a counter, and none lands in the global registry."""
    first, second = Metrics(), Metrics()
    first.add_bytes(10)
    assert parse(second.exposition().decode())[("dlsync_uploaded_bytes_total", ())] == 0
    assert REGISTRY.get_sample_value("dlsync_uploaded_bytes_total") is None


@pytest.mark.parametrize("address", ["9464", "localhost:", "host:99999", ":80"])
def test_bad_address_is_a_config_error_naming_the_key(address: str) -> None:
    """A metrics address that is not HOST:PORT is refused, naming the config key."""
    with pytest.raises(ConfigError, match=r"service\.metrics_address"):
        split_address(address)


async def test_busy_port_is_a_config_error() -> None:
    """Serving on a port already taken raises a ConfigError naming the address."""
    metrics = Metrics()
    server = await metrics.serve("127.0.0.1:0")
    try:
        taken = server.url.split(":")[2].split("/")[0]
        with pytest.raises(ConfigError, match=f"127.0.0.1:{taken}"):
            await Metrics().serve(f"127.0.0.1:{taken}")
    finally:
        await server.close()


async def test_pacer_requests_429s_and_retries_reach_the_metrics(gate: RunningGate) -> None:
    """Requests through an attached pacer are counted by status, 429s and retries included."""
    metrics = Metrics()
    settings = RemoteSettings(url=gate.url)
    credentials = Credentials(token=gate.mint_token(), source="test")
    async with DataloopClient(settings, credentials) as client:
        metrics.attach(client.pacer, remote="gate")
        await client.get_project("p-ops", create=True)
        gate.set_faults(FaultSettings(rate_limit=2.0))
        for _ in range(8):
            await client.get_project("p-ops")
        gate.set_faults(FaultSettings())
        stats = client.pacer.stats()
    samples = parse(metrics.exposition().decode())
    assert samples[("dlsync_requests_total", (("status", "200"),))] >= 7
    assert samples[("dlsync_requests_total", (("status", "429"),))] == stats.rate_limited
    assert stats.rate_limited > 0
    assert samples[("dlsync_retries_total", ())] == stats.retries
    assert samples[("dlsync_request_rate", (("remote", "gate"),))] == stats.current_rate


class Readings:
    """A service's totals as the metrics read them, changed by the test between scrapes."""

    def __init__(self) -> None:
        self.depth = 3
        self.totals: dict[tuple[str, str], int] = {("upload", "done"): 4}
        self.sent = 100

    def queue_depth(self) -> int:
        return self.depth

    def oldest_pending_age(self) -> float:
        return 9.5

    def actions(self) -> dict[tuple[str, str], int]:
        return dict(self.totals)

    def bytes_sent(self) -> int:
        return self.sent

    def pacer_rates(self) -> dict[str, float]:
        return {"prod": 25.0}

    def pacer_concurrency(self) -> dict[str, int]:
        return {"prod": 12}

    def conflicts(self) -> int:
        return 2

    def paused(self) -> int:
        return 1


def test_bound_readings_are_read_at_each_scrape() -> None:
    """Totals read from a bound service become counters that follow them, never counted twice."""
    metrics = Metrics()
    readings = Readings()
    metrics.bind(readings)
    first = parse(metrics.exposition().decode())
    assert first[("dlsync_actions_total", (("kind", "upload"), ("outcome", "done")))] == 4
    assert first[("dlsync_queue_depth", ())] == 3
    assert first[("dlsync_request_rate", (("remote", "prod"),))] == 25.0
    assert first[("dlsync_concurrency_limit", (("remote", "prod"),))] == 12
    assert first[("dlsync_conflicts", ())] == 2
    assert first[("dlsync_paused_pairs", ())] == 1
    readings.totals[("upload", "done")] = 6
    readings.sent = 250
    readings.depth = 0
    second = parse(metrics.exposition().decode())
    assert second[("dlsync_actions_total", (("kind", "upload"), ("outcome", "done")))] == 6
    assert second[("dlsync_uploaded_bytes_total", ())] == 250
    assert second[("dlsync_queue_depth", ())] == 0
    assert second[("dlsync_oldest_pending_age_seconds", ())] == 9.5
