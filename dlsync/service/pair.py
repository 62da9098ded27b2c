"""One sync pair inside the service: watch, queue, settle, incremental batches, reconciles.

    watcher ─hints─► CoalescingQueue ─► Settler ─settled paths─► ServiceCycle(scope) ─► platform
    timer / SIGHUP ──► poll_annotations (pull) ──► ServiceCycle(all) ─────────────────► platform

``direction`` picks the sides: ``push`` runs the watcher and the cycles; ``pull-annotations``
only polls the platform's annotations into the local files on the reconcile interval (no
watcher, nothing sent); ``both`` polls first, then runs the full cycle, and keeps the watcher.
A poll records every file it writes (stat and set hash) as synced, and runs under the pair's
lock, so the watcher's hint for that write finds nothing to send.
The watcher is installed before the first (full) cycle starts, so no change falls between them.
Cycles of one pair never overlap. Work in flight is shielded from ``stop()``: it finishes (or is
cut by ``abort()`` after the shutdown timeout) and every outcome is recorded.
"""

from __future__ import annotations

import errno
import os
import threading
from dataclasses import dataclass

import anyio
import anyio.to_thread

from dlsync import constants, logs
from dlsync.clock import Clock, wait_for_event
from dlsync.config import PairConfig
from dlsync.errors import AuthError, DlsyncError, EmptyRootError, is_fatal
from dlsync.local.watch import Hint, HintKind, WatchSource, open_watch, pump_hints
from dlsync.model import Direction
from dlsync.pairs import PairContext, pair_spec
from dlsync.pull.puller import PullResult, poll_annotations
from dlsync.push.tasks import KnownTask
from dlsync.remote.connect import Connection
from dlsync.service.hints import files_under, sync_paths, watch_paths
from dlsync.service.incremental import GoneHold, ServiceCycle
from dlsync.service.observer import ServiceCounters
from dlsync.service.queue import CoalescingQueue
from dlsync.service.retry import RetrySchedule
from dlsync.service.scope import Arrivals, scope_roots
from dlsync.service.settle import Look, Ready, Settler, look
from dlsync.state.ops import pair_paused
from dlsync.state.queries import StateReader
from dlsync.state.store import StateStore

_log = logs.get_logger(__name__)

_REMEDY = ("raise the limit: sysctl fs.inotify.max_user_watches=1048576 (persist it in "
           "/etc/sysctl.d/); until then every change waits for the next full scan")


@dataclass(frozen=True, slots=True)
class PairWiring:
    """What every pair of one service shares: its counters, its clock and its watcher source."""

    counters: ServiceCounters
    clock: Clock
    watch_source: WatchSource


class PairService:
    """Keeps one sync pair in sync until stopped."""

    def __init__(self, pair: PairConfig, connection: Connection, store: StateStore,
                 wiring: PairWiring) -> None:
        self.pair = pair
        self.client = connection.client
        self.store = store
        self.remote_url = connection.url
        self.counters = wiring.counters
        self.clock = wiring.clock
        self.watch_source = wiring.watch_source
        self.queue: CoalescingQueue[str, HintKind] = CoalescingQueue(constants.QUEUE_SIZE)
        self.settler = Settler(pair.settle, wiring.clock)
        self.arrivals = Arrivals()
        self._known_task: KnownTask | None = None   # the pair's task, as the last cycle found it
        self.hold = GoneHold.for_pair(pair, wiring.clock)
        self.watching = False
        self.dataset_id = ""
        self.retries = RetrySchedule(wiring.clock)
        self._lock = anyio.Lock()
        self._stop_flag = threading.Event()
        self._trigger = anyio.Event()
        self._initial = anyio.Event()
        self.stopped = anyio.Event()
        self._intake: anyio.CancelScope | None = None
        self._work: anyio.CancelScope | None = None
        self._pair_id = 0
        self.polls = 0
        """Annotation polls completed (``direction`` ``pull-annotations`` or ``both``)."""
        wiring.counters.depth_gauges.append(lambda: self.queue.depth + len(self.settler.pending))
        wiring.counters.age_gauges.append(self.settler.oldest_age)

    # -- life cycle ---------------------------------------------------------------------------

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
                  ) -> None:
        """Install the watcher, report started, then sync until ``stop()``."""
        try:
            self._pair_id = await anyio.to_thread.run_sync(
                self.store.register_pair, pair_spec(self.pair, self.remote_url))
            async with anyio.create_task_group() as tg:
                self._intake = tg.cancel_scope
                await self._start_watcher(tg)
                task_status.started()
                tg.start_soon(self._reconcile_loop)
                if self.pushes:
                    tg.start_soon(self._settle_loop)
        finally:
            self.stopped.set()

    @property
    def pushes(self) -> bool:
        """True when local changes go up (``direction`` is ``push`` or ``both``)."""
        return self.pair.direction is not Direction.PULL_ANNOTATIONS

    @property
    def pulls(self) -> bool:
        """True when the platform's annotations come down (``pull-annotations`` or ``both``)."""
        return self.pair.direction is not Direction.PUSH

    def stop(self) -> None:
        """Take no more work; what is in flight finishes."""
        self._stop_flag.set()
        if self._intake is not None:
            self._intake.cancel()

    def abort(self) -> None:
        """Cut the work in flight (after the shutdown timeout); state keeps what completed."""
        if self._work is not None:
            self._work.cancel()

    def trigger_reconcile(self) -> None:
        """Run a full reconcile now (SIGHUP)."""
        self._trigger.set()

    # -- watcher ------------------------------------------------------------------------------

    async def _start_watcher(self, tg: anyio.abc.TaskGroup) -> None:
        if not self.pushes:
            return   # nothing local is sent, so no change needs watching
        try:
            watch = await open_watch(self.watch_source, watch_paths(self.pair))
        except Exception as exc:
            self._fall_back(exc)
            return
        self.watching = True
        tg.start_soon(self._pump, watch)

    async def _pump(self, watch: object) -> None:
        try:
            await pump_hints(watch, self._on_hints, self._stop_flag)  # type: ignore[arg-type]
        except Exception as exc:
            self._fall_back(exc)

    def _fall_back(self, exc: BaseException) -> None:
        self.watching = False
        interval = min(self.pair.reconcile_interval, constants.FALLBACK_SCAN_S)
        limit = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EMFILE)
        _log.warning("filesystem watcher unavailable; falling back to a full scan every "
                     f"{interval:g} s", pair=self.pair.name, error=str(exc),
                     remedy=_REMEDY if limit else "check the error; " + _REMEDY)
        self._trigger.set()

    async def _on_hints(self, hints: list[Hint]) -> None:
        await self.queue.put_many((path, hint.kind) for hint in hints
                                  for path in sync_paths(self.pair, hint.path))

    # -- loops --------------------------------------------------------------------------------

    def _interval(self) -> float:
        if self.watching or not self.pushes:
            return self.pair.reconcile_interval
        return min(self.pair.reconcile_interval, constants.FALLBACK_SCAN_S)

    async def _reconcile_loop(self) -> None:
        while True:
            ok = await self._poll() if self.pulls else True
            if self.pushes and not self._stop_flag.is_set():
                ok = await self._cycle(None) and ok
            await self._count_conflicts()
            self._initial.set()
            wait = self._interval() if ok else min(self._interval(), constants.CYCLE_RETRY_S)
            await wait_for_event(self.clock, self._trigger, wait)
            self._trigger = anyio.Event()

    async def _settle_loop(self) -> None:
        await self._initial.wait()
        tick = max(0.01, min(constants.SETTLE_TICK_S, self.pair.settle / 2))
        while True:
            room = max(0, constants.QUEUE_SIZE - len(self.settler.pending))
            taken = await self.queue.take_nowait(room)
            self.settler.note(path for path, _ in taken)
            self.settler.note(self.retries.take_due())
            ready = await anyio.to_thread.run_sync(self._check)
            due = self.hold.due()
            if ready.files or ready.gone or due:
                files = self.arrivals.roots(ready.files, self.settler.pending)
                scope = scope_roots([*files, *ready.gone, *self.hold.until])
                if not await self._cycle(scope):
                    self.settler.note([*ready.files, *ready.gone])
                    await self.clock.sleep(constants.CYCLE_RETRY_S)
            elif not self.settler.pending and not taken:
                await self._idle()
            else:
                await self.clock.sleep(self._next_look_in(tick))

    def _next_look_in(self, tick: float) -> float:
        """How long to wait before the next check: until the earliest waiting path could be
        ready, at most ``tick`` and at least ``SETTLE_RELOOK_S`` (the two looks that must find
        a file's stat unchanged are never closer than that). Files that arrive already quiet
        (a folder moved in) are so taken a relook, not a tick, after their first look."""
        due = self.settler.next_due()
        if due is None:
            return tick
        wait = due - self.clock.monotonic()
        return min(tick, max(constants.SETTLE_RELOOK_S, wait))

    async def _idle(self) -> None:
        """Wait for the next hint, or ``IDLE_WAKE_S`` on the clock (retries and grace end)."""
        async with anyio.create_task_group() as tg:
            async def take() -> None:
                taken = await self.queue.take(constants.QUEUE_SIZE)
                self.settler.note(path for path, _ in taken)
                tg.cancel_scope.cancel()

            tg.start_soon(take)
            await self.clock.sleep(constants.IDLE_WAKE_S)
            tg.cancel_scope.cancel()

    def _check(self) -> Ready:
        """Stat the pending paths (in a thread). A new directory is expanded into its files,
        which get their first look at once, so a folder moved in is ready a tick sooner."""
        root = str(self.pair.source)

        def at(rel: str) -> Look:
            return look(os.path.join(root, rel))

        ready = self.settler.check(at, constants.SERVICE_BATCH)
        files, gone, folders = list(ready.files), list(ready.gone), list(ready.dirs)
        while folders:
            folder = folders.pop()
            found = files_under(self.pair.source, folder)
            self.arrivals.expanded(folder, len(found))
            self.settler.note(found)
            first = self.settler.check(at, len(found), found)
            files.extend(first.files)
            gone.extend(first.gone)
            folders.extend(first.dirs)
        return Ready(tuple(files), tuple(gone), ready.dirs)

    async def _cycle(self, scope: tuple[str, ...] | None) -> bool:
        """One cycle (full when ``scope`` is None); False when it failed and should be retried."""
        async with self._lock:
            with anyio.CancelScope(shield=True) as work:
                self._work = work
                cycle = ServiceCycle(self._context(), self.hold, scope=scope,
                                     dataset_id=self.dataset_id, stop=self._stop_flag)
                cycle.known_task = self._known_task
                try:
                    result = await cycle.run()
                except (EmptyRootError, AuthError) as exc:
                    if not _pauses(exc):
                        raise
                    await self._pause(str(exc))
                    return False
                except DlsyncError as exc:
                    if is_fatal(exc):
                        raise
                    _log.warning("sync cycle failed; will retry in "
                                 f"{constants.CYCLE_RETRY_S:g} s", pair=self.pair.name,
                                 error=logs.scrub(str(exc)))
                    return False
                finally:
                    self._work = None
                    self.counters.add(cycle.tally)
                    self.settler.note(cycle.unsettled)
                    self._known_task = cycle.tasks.keeper.known() if cycle.tasks else None
            if work.cancelled_caught:
                return False
            self.dataset_id = result.dataset_id or self.dataset_id
            await self._resume()
            self._log_cycle(scope, cycle)
        await self._schedule_retries(cycle)
        return True

    def _context(self) -> PairContext:
        return PairContext(self.pair, self.client, self.store, self._pair_id)

    async def _pause(self, reason: str) -> None:
        """Hold the pair: a root it tracks files in looks unmounted, or the platform refuses its
        project or dataset. Nothing is changed; every cycle looks again, and the first that
        succeeds resumes the pair."""
        if self.counters.paused_pairs.get(self.pair.name) != reason:
            _log.error("pair paused: nothing is synced until it can be again; checked again "
                       f"in {constants.CYCLE_RETRY_S:g} s", pair=self.pair.name, reason=reason)
            await anyio.to_thread.run_sync(self.store.write, [
                pair_paused(self.pair.name, reason, self.clock.wall())])
        self.counters.paused_pairs[self.pair.name] = reason

    async def _resume(self) -> None:
        if self.counters.paused_pairs.pop(self.pair.name, None) is not None:
            _log.info("pair resumed", pair=self.pair.name)
            await anyio.to_thread.run_sync(self.store.write, [
                pair_paused(self.pair.name, None, self.clock.wall())])

    @property
    def paused(self) -> bool:
        """True while a root of the pair looks unmounted."""
        return self.pair.name in self.counters.paused_pairs

    async def _poll(self) -> bool:
        """Pull the platform's annotation changes; False when the poll failed (retried)."""
        async with self._lock:
            with anyio.CancelScope(shield=True) as work:
                self._work = work
                try:
                    result = await poll_annotations(self._context())
                except (EmptyRootError, AuthError) as exc:
                    if not _pauses(exc):
                        raise
                    await self._pause(str(exc))
                    return False
                except DlsyncError as exc:
                    if is_fatal(exc):
                        raise
                    _log.warning("annotation poll failed; will retry in "
                                 f"{constants.CYCLE_RETRY_S:g} s", pair=self.pair.name,
                                 error=logs.scrub(str(exc)))
                    return False
                finally:
                    self._work = None
            if work.cancelled_caught:
                return False
        self.dataset_id = result.dataset_id or self.dataset_id
        self._log_poll(result)
        await self._count_conflicts()   # before the poll counts as done: it may add conflicts
        self.polls += 1
        return True

    def _log_poll(self, result: PullResult) -> None:
        tally = result.tally
        self.counters.add_pull(tally)
        _log.info("annotations polled", pair=self.pair.name, full=result.full,
                  **{key.replace("-", "_"): n for key, n in tally.outcomes.items()})

    async def _count_conflicts(self) -> None:
        """Publish how many of the pair's files are in conflict (metrics, status line)."""
        def count() -> int:
            with StateReader(self.store.path) as reader:
                return len(reader.in_conflict(self._pair_id))

        self.counters.conflicts_by_pair[self.pair.name] = await anyio.to_thread.run_sync(count)

    def _log_cycle(self, scope: tuple[str, ...] | None, cycle: ServiceCycle) -> None:
        if cycle.tally.finished or scope is None:
            _log.info("reconciled" if scope is None else "batch synced", pair=self.pair.name,
                      paths=None if scope is None else len(scope), **cycle.tally.counts())

    async def _schedule_retries(self, cycle: ServiceCycle) -> None:
        """Give each file that failed in ``cycle`` its backoff, in memory and in state."""
        failed = scope_roots(failure.path for failure in cycle.tally.failures)
        if not failed:
            return

        def schedule() -> None:
            with StateReader(self.store.path) as reader:
                records = [r for r in reader.files_under(self._pair_id, failed)
                           if r.path in failed]
            self.store.write(self.retries.schedule(self._pair_id, records))

        await anyio.to_thread.run_sync(schedule)
        for failure in cycle.tally.failures:
            due = self.retries.due.get(failure.path)
            if due is not None:
                _log.warning("file failed; will retry in "
                             f"{due - self.clock.monotonic():.0f} s", pair=self.pair.name,
                             path=failure.path, reason=failure.reason)


def _pauses(exc: DlsyncError) -> bool:
    """True for the errors that pause one pair and leave the others running: a root that looks
    unmounted, or the platform refusing the pair's project or dataset (HTTP 403)."""
    return isinstance(exc, EmptyRootError) or (isinstance(exc, AuthError) and exc.status == 403)
