"""Prometheus metrics of the service: what it is doing, how fast, and what the remote answers.

Every collector lives in the ``Metrics`` object's own ``CollectorRegistry``, never in the
process-wide default one, so two services (or two tests) in one process never share a counter.
Values arrive two ways: pushed, by calling the small methods below (the pacer calls
``observe_request``, ``observe_retry`` and ``set_rate`` once ``attach``-ed), or pulled, from a
``ServiceReadings`` object (the running service) that ``bind`` makes the metrics read at every
scrape. ``serve`` exposes ``GET /metrics`` in the Prometheus text format; it is off unless
``[service] metrics = true``.

Metric                               type     meaning
dlsync_queue_depth                   gauge    changes waiting to be planned or transferred
dlsync_actions_total{kind,outcome}   counter  actions ended, by kind (upload, move...) and outcome
dlsync_uploaded_bytes_total          counter  file bytes the remote accepted
dlsync_requests_total{status}        counter  request attempts by HTTP status ("transport": none)
dlsync_retries_total                 counter  requests sent again after a retryable failure
dlsync_request_rate{remote}          gauge    requests per second the pacer allows right now
dlsync_concurrency_limit{remote}     gauge    requests in flight the adaptive limit allows now
dlsync_oldest_pending_age_seconds    gauge    how long the oldest unsynced change has waited
dlsync_conflicts                     gauge    tracked files in conflict, waiting for a person
dlsync_paused_pairs                  gauge    pairs paused: a root with tracked files is empty
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge
from prometheus_client.exposition import generate_latest

from dlsync import constants, logs
from dlsync.errors import ConfigError
from dlsync.remote.pacer import Pacer

_log = logs.get_logger(__name__)

DEFAULT_REMOTE = "default"
"""The ``remote`` label of a rate set without naming the remote."""


class ServiceReadings(Protocol):
    """What a running service lets the metrics read at each scrape (totals since it started)."""

    def queue_depth(self) -> int:
        """Changes waiting over every pair."""
        ...

    def oldest_pending_age(self) -> float:
        """Seconds the longest-waiting change has been pending; 0 when none is."""
        ...

    def actions(self) -> Mapping[tuple[str, str], int]:
        """Actions ended since start, by ``(kind, outcome)``."""
        ...

    def bytes_sent(self) -> int:
        """Bytes uploaded since start."""
        ...

    def pacer_rates(self) -> Mapping[str, float]:
        """The current request rate of each remote's pacer, by remote name."""
        ...

    def pacer_concurrency(self) -> Mapping[str, int]:
        """Requests each remote's adaptive limit allows in flight now, by remote name."""
        ...

    def conflicts(self) -> int:
        """Tracked files in conflict now, over every pair."""
        ...

    def paused(self) -> int:
        """Pairs paused because a root they track files in is missing or empty."""
        ...


TaskCensusReading = Callable[[], Mapping[tuple[str, str], int]]
"""Reads every pair's task census from state: ``{(pair, status): items}``."""


class _PacerHook:
    """The ``PacerObserver`` of one remote's pacer: counts into ``metrics`` under its name."""

    def __init__(self, metrics: Metrics, remote: str) -> None:
        self._metrics = metrics
        self._remote = remote

    def observe_request(self, status: int | str) -> None:
        self._metrics.observe_request(status)

    def observe_retry(self) -> None:
        self._metrics.observe_retry()

    def set_rate(self, rate: float) -> None:
        self._metrics.set_rate(rate, remote=self._remote)


class Metrics:
    """The service's collectors, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._queue = Gauge("dlsync_queue_depth",
                            "Changes waiting to be planned or transferred.", registry=r)
        self._actions = Counter("dlsync_actions", "Actions ended, by kind and outcome.",
                                ["kind", "outcome"], registry=r)
        self._bytes = Counter("dlsync_uploaded_bytes", "File bytes the remote accepted.",
                              registry=r)
        self._requests = Counter("dlsync_requests", "Request attempts by HTTP status "
                                 '("transport" when no answer came back).', ["status"],
                                 registry=r)
        self._retries = Counter("dlsync_retries", "Requests sent again after a retryable "
                                "failure.", registry=r)
        self._rate = Gauge("dlsync_request_rate", "Requests per second the pacer allows now.",
                           ["remote"], registry=r)
        self._concurrency = Gauge("dlsync_concurrency_limit", "Requests in flight the "
                                  "adaptive limit allows now (below the remote's concurrency).",
                                  ["remote"], registry=r)
        self._oldest = Gauge("dlsync_oldest_pending_age_seconds", "Seconds the oldest "
                             "unsynced change has waited (0 when none).", registry=r)
        self._conflicts = Gauge("dlsync_conflicts", "Tracked files in conflict.", registry=r)
        self._paused = Gauge("dlsync_paused_pairs", "Sync pairs paused because a root they "
                             "track files in is missing or empty.", registry=r)
        self._task_items = Gauge("dlsync_task_items", "Items of a pair in each status of its "
                                 "task, as of the pair's last listing.", ["pair", "status"],
                                 registry=r)
        self._readings: ServiceReadings | None = None
        self._task_census: TaskCensusReading | None = None
        self._seen_actions: dict[tuple[str, str], int] = {}
        self._seen_bytes = 0

    def observe_action(self, kind: str, outcome: str, count: int = 1) -> None:
        """``count`` actions of ``kind`` (upload, move...) ended with ``outcome`` (done...)."""
        self._actions.labels(kind=kind, outcome=outcome).inc(count)

    def add_bytes(self, count: int) -> None:
        """``count`` more file bytes were accepted by the remote."""
        self._bytes.inc(count)

    def observe_request(self, status: int | str) -> None:
        """One request attempt ended with HTTP ``status`` (or ``"transport"``)."""
        self._requests.labels(status=str(status)).inc()

    def observe_retry(self) -> None:
        """A failed request is about to be sent again."""
        self._retries.inc()

    def set_queue_depth(self, depth: int) -> None:
        """``depth`` changes are waiting in the queue."""
        self._queue.set(depth)

    def set_rate(self, rate: float, remote: str = DEFAULT_REMOTE) -> None:
        """The pacer of ``remote`` now allows ``rate`` requests per second."""
        self._rate.labels(remote=remote).set(rate)

    def set_oldest_pending_age(self, seconds: float) -> None:
        """The oldest unsynced change has waited ``seconds``."""
        self._oldest.set(max(0.0, seconds))

    def set_conflicts(self, count: int) -> None:
        """``count`` tracked files are in conflict."""
        self._conflicts.set(count)

    def attach(self, pacer: Pacer, remote: str = DEFAULT_REMOTE) -> None:
        """Count ``pacer``'s requests, retries and rate (labelled ``remote``) from now on."""
        pacer.observer = _PacerHook(self, remote)
        self.set_rate(pacer.rate, remote=remote)

    def bind(self, readings: ServiceReadings) -> None:
        """Read ``readings`` at every scrape from now on (its totals must only grow)."""
        self._readings = readings

    def bind_task_census(self, read: TaskCensusReading) -> None:
        """Read the task census (``{(pair, status): items}``) at every scrape from now on."""
        self._task_census = read

    def set_task_items(self, census: Mapping[tuple[str, str], int]) -> None:
        """The items of each pair in each status of its task; statuses no longer seen go."""
        self._task_items.clear()
        for (pair, status), count in census.items():
            self._task_items.labels(pair=pair, status=status).set(count)

    def refresh(self) -> None:
        """Bring the metrics up to date with the bound readings, if any."""
        if self._task_census is not None:
            self.set_task_items(self._task_census())
        source = self._readings
        if source is None:
            return
        self.set_queue_depth(source.queue_depth())
        self.set_conflicts(source.conflicts())
        self._paused.set(source.paused())
        self.set_oldest_pending_age(source.oldest_pending_age())
        for (kind, outcome), total in source.actions().items():
            seen = self._seen_actions.get((kind, outcome), 0)
            if total > seen:
                self.observe_action(kind, outcome, total - seen)
                self._seen_actions[(kind, outcome)] = total
        sent = source.bytes_sent()
        if sent > self._seen_bytes:
            self.add_bytes(sent - self._seen_bytes)
            self._seen_bytes = sent
        for remote, rate in source.pacer_rates().items():
            self.set_rate(rate, remote=remote)
        for remote, limit in source.pacer_concurrency().items():
            self._concurrency.labels(remote=remote).set(limit)

    def exposition(self) -> bytes:
        """Every metric in the Prometheus text format, bound readings refreshed first."""
        self.refresh()
        return generate_latest(self.registry)

    async def serve(self, address: str = constants.METRICS_ADDRESS) -> MetricsServer:
        """Start serving ``GET /metrics`` on ``HOST:PORT`` (port 0 picks a free one)."""
        host, port = split_address(address)

        async def handle(request: web.Request) -> web.Response:
            return web.Response(body=self.exposition(),
                                headers={"Content-Type": CONTENT_TYPE_LATEST})

        app = web.Application()
        app.router.add_get(constants.METRICS_PATH, handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise ConfigError(f"cannot serve metrics on {address}: {exc}",
                              key="service.metrics_address") from exc
        bound = runner.addresses[0][1]
        server = MetricsServer(runner, f"http://{_url_host(host)}:{bound}"
                                       f"{constants.METRICS_PATH}")
        _log.info("metrics served", url=server.url)
        return server


@dataclass(frozen=True, slots=True)
class MetricsServer:
    """A running metrics endpoint; ``close`` stops it."""

    runner: web.AppRunner
    url: str

    async def close(self) -> None:
        """Stop serving and release the port."""
        await self.runner.cleanup()


def split_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) as ``(host, port)``."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"expected HOST:PORT, got {address!r}", key="service.metrics_address")
    return host.strip("[]"), int(port)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
