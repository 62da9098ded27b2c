"""``dlsync run``: serve every sync pair of a config from one process until told to stop.

One client (one pacer) per remote, shared by the pairs on it; one ``PairService`` per pair.
Signals: SIGTERM/SIGINT stop (work in flight finishes within ``[service] shutdown_timeout``,
every outcome is recorded, exit 0); SIGHUP runs a full reconcile of every pair. systemd hears
``READY=1`` once every watcher is up and the initial scans have started, ``STATUS=`` every few
seconds, ``WATCHDOG=1`` at half of ``$WATCHDOG_USEC`` and ``STOPPING=1`` on shutdown. With
``[service] metrics = true`` Prometheus metrics are served on ``metrics_address`` until exit.
A fatal error (authentication, disk full, config) ends the process with its exit code.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.to_thread

from dlsync import constants, logs
from dlsync.clock import Clock, SystemClock
from dlsync.config import Config, RemoteConfig
from dlsync.errors import EXIT_OK, DlsyncError, UsageError
from dlsync.local.watch import NotifyWatchSource, WatchSource
from dlsync.metrics import Metrics
from dlsync.remote.connect import Connection, connect
from dlsync.service.notify import Notifier
from dlsync.service.observer import ServiceCounters
from dlsync.service.pair import PairService, PairWiring
from dlsync.service.shared import SharedStore
from dlsync.state.location import lock_path
from dlsync.state.lock import PairLock
from dlsync.state.ops import daemon_heartbeat, daemon_stopped
from dlsync.state.store import StateStore
from dlsync.status import task_items

_log = logs.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Seams:
    """Where the service meets the world: time, file-system events and systemd. Tests replace
    them (a fake clock, a failing watcher, a notify socket of their own)."""

    clock: Clock = field(default_factory=SystemClock)
    watch_source: WatchSource = field(default_factory=NotifyWatchSource)
    notifier: Notifier = field(default_factory=Notifier)


class Daemon:
    """The service process: pairs, shared clients, signals, heartbeat and sd_notify."""

    def __init__(self, config: Config, state: Path, *, seams: Seams | None = None,
                 gate_data: Path | None = None) -> None:
        if not config.pairs:
            raise UsageError(f"the config {config.source or ''} defines no [pairs.NAME]; "
                             "nothing to serve")
        self.config = config
        self.state = state
        seams = seams or Seams()
        self.clock = seams.clock
        self.watch_source = seams.watch_source
        self.notifier = seams.notifier
        self.gate_data = gate_data
        self.counters = ServiceCounters()
        self.pairs: list[PairService] = []
        self.ready = anyio.Event()
        self.metrics_url: str | None = None
        """Where ``/metrics`` is served, once it is (``[service] metrics = true``)."""
        self._stop = anyio.Event()

    def stop(self) -> None:
        """Begin a graceful shutdown (SIGTERM)."""
        self._stop.set()

    def reconcile(self) -> None:
        """Reconcile every pair now (SIGHUP)."""
        for service in self.pairs:
            service.trigger_reconcile()

    async def run(self) -> int:
        """Serve until stopped; return the exit code (fatal errors are raised)."""
        for pair in self.config.pairs.values():
            if not pair.source.is_dir():
                raise UsageError(f"pair {pair.name}: source folder {pair.source} does not "
                                 "exist or is not a folder")
        with ExitStack() as locks, SharedStore.open(self.state) as store:
            for name in self.config.pairs:
                locks.enter_context(PairLock(lock_path(self.state, name), name))
            async with AsyncExitStack() as remotes:
                connections = await self._connect(remotes)
                await self._serve_metrics(remotes, connections)
                try:
                    await self._serve(store, connections)
                except BaseExceptionGroup as group:
                    raise _first_error(group) from None
                finally:
                    with anyio.CancelScope(shield=True):
                        await anyio.to_thread.run_sync(store.write, [daemon_stopped()])
        _log.info("service stopped")
        return EXIT_OK

    async def _connect(self, stack: AsyncExitStack) -> dict[str, Connection]:
        """One connection per remote, keyed by remote name."""
        found: dict[str, Connection] = {}
        for pair in self.config.pairs.values():
            key = _remote_key(pair.remote)
            if key not in found:
                found[key] = await stack.enter_async_context(
                    connect(pair.remote, gate_data=self.gate_data))
                self.counters.rate_gauges[pair.remote.name] = _rate_of(found[key])
                self.counters.concurrency_gauges[pair.remote.name] = _concurrency_of(found[key])
        return found

    async def _serve_metrics(self, stack: AsyncExitStack,
                             connections: dict[str, Connection]) -> None:
        """Serve ``/metrics`` until the service ends, when ``[service] metrics`` is on."""
        if not self.config.service.metrics:
            return
        metrics = Metrics()
        metrics.bind(self.counters)
        metrics.bind_task_census(lambda: task_items(self.state))
        for key, connection in connections.items():
            metrics.attach(connection.client.pacer, remote=key.partition("\0")[0])
        server = await metrics.serve(self.config.service.metrics_address)
        stack.push_async_callback(server.close)
        self.metrics_url = server.url

    async def _serve(self, store: StateStore, connections: dict[str, Connection]) -> None:
        wiring = PairWiring(self.counters, self.clock, self.watch_source)
        for pair in self.config.pairs.values():
            connection = connections[_remote_key(pair.remote)]
            self.pairs.append(PairService(pair, connection, store, wiring))
        async with anyio.create_task_group() as tg:
            for service in self.pairs:
                await tg.start(service.run)
            self.notifier.ready()
            self.ready.set()
            _log.info("service ready", pairs=[p.pair.name for p in self.pairs],
                      watching=[p.pair.name for p in self.pairs if p.watching])
            helpers = anyio.CancelScope()
            tg.start_soon(self._pulses, store, helpers)
            await self._stop.wait()
            await self._shutdown()
            helpers.cancel()

    async def _pulses(self, store: StateStore, scope: anyio.CancelScope) -> None:
        with scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._heartbeat, store)
                tg.start_soon(self._status)
                if self.notifier.watchdog_s is not None:
                    tg.start_soon(self._watchdog, self.notifier.watchdog_s)

    async def _shutdown(self) -> None:
        timeout = self.config.service.shutdown_timeout
        self.notifier.stopping()
        _log.info("stopping: no new work; work in flight may finish", timeout_s=timeout)
        for service in self.pairs:
            service.stop()
        with anyio.move_on_after(timeout) as waited:
            for service in self.pairs:
                await service.stopped.wait()
        if waited.cancelled_caught:
            _log.warning("shutdown timeout reached; cutting transfers in flight, they are "
                         "retried at the next start", timeout_s=timeout)
            for service in self.pairs:
                service.abort()

    async def _heartbeat(self, store: StateStore) -> None:
        while True:
            op = daemon_heartbeat(os.getpid(), self.clock.wall())
            await anyio.to_thread.run_sync(store.write, [op])
            await self.clock.sleep(constants.HEARTBEAT_S)

    async def _status(self) -> None:
        while True:
            self.notifier.status(self.counters.status_line())
            await self.clock.sleep(constants.STATUS_EVERY_S)

    async def _watchdog(self, every: float) -> None:
        while True:
            self.notifier.watchdog()
            await self.clock.sleep(every)

    async def serve_signals(self) -> None:
        """Turn SIGTERM/SIGINT into ``stop()`` and SIGHUP into ``reconcile()`` (main thread)."""
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            async for signum in signals:
                if signum == signal.SIGHUP:
                    _log.info("SIGHUP: reconciling every pair now")
                    self.reconcile()
                else:
                    _log.info("signal received; shutting down", signal=signal.Signals(signum).name)
                    self.stop()


def _rate_of(connection: Connection) -> Callable[[], float]:
    return lambda: connection.client.pacer.rate


def _concurrency_of(connection: Connection) -> Callable[[], int]:
    return lambda: connection.client.pacer.concurrency


def _remote_key(remote: RemoteConfig) -> str:
    return f"{remote.name}\0{remote.url}"


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first ``DlsyncError`` in a (nested) exception group, else the group itself."""
    for exc in group.exceptions:
        if isinstance(exc, DlsyncError):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            inner = _first_error(exc)
            if inner is not exc:
                return inner
    return group


async def run_service(config: Config, state: Path, *, gate_data: Path | None = None) -> int:
    """``dlsync run``: the daemon with real signals, clock and watcher.

    Signals are taken before anything else starts, so a SIGTERM during start-up is a clean stop.
    """
    daemon = Daemon(config, state, gate_data=gate_data)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(daemon.serve_signals)
            code = await daemon.run()
            tg.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        raise _first_error(group) from None
    return code
