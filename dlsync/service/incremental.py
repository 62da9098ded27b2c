"""The service's cycles: a full reconcile, or an incremental batch over a scope of paths.

Both are the engine's ``Cycle`` with two differences. A file written less than ``settle``
seconds ago is not sent: it is set aside for the settler. A file that is gone locally is held
back for a grace period (``delete_grace`` with deletes on, ``MOVE_WINDOW_S`` with deletes off)
instead of being deleted or marked deleted at once. Every later batch re-plans the held paths
with its own, so a delete and an add of the same content become a move (DESIGN.md decision 5),
and a file that comes back within the grace period is never deleted remotely.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import anyio
import anyio.to_thread
from anyio.abc import ObjectSendStream

from dlsync import constants
from dlsync.clock import Clock
from dlsync.config import PairConfig
from dlsync.model import ActionKind
from dlsync.pairs import PairContext
from dlsync.push.cycle import Cycle, CycleResult, RunOptions
from dlsync.push.handoff import Handoff
from dlsync.push.job import Job, Target
from dlsync.push.planner import Finale, Planner, finish
from dlsync.push.tasks import KnownTask, open_tasks
from dlsync.service.scope import ScopedPlanner
from dlsync.state.ops import MarkFile, RunKind, WriteOp
from dlsync.state.queries import StateReader
from dlsync.state.writer import StateWriter, running_writer

_SENDS_CONTENT = frozenset({ActionKind.UPLOAD, ActionKind.OVERWRITE, ActionKind.REUPLOAD})


@dataclass(slots=True)
class GoneHold:
    """Gone paths waiting out their grace period, with the monotonic time it ends."""

    window: float
    clock: Clock
    until: dict[str, float] = field(default_factory=dict)
    kept: set[str] = field(default_factory=set)

    @classmethod
    def for_pair(cls, pair: PairConfig, clock: Clock) -> GoneHold:
        """Grace for deletes when they are on, else the move window."""
        return cls(pair.delete_grace if pair.delete else constants.MOVE_WINDOW_S, clock)

    def keep(self, path: str, *, start: bool) -> bool:
        """True when the gone ``path`` must wait; ``start`` begins its grace when not held."""
        deadline = self.until.get(path)
        if deadline is None:
            if not start or self.window <= 0:
                return False
            deadline = self.until[path] = self.clock.monotonic() + self.window
        if self.clock.monotonic() < deadline:
            self.kept.add(path)
            return True
        return False

    def due(self) -> list[str]:
        """Held paths whose grace has ended."""
        now = self.clock.monotonic()
        return [path for path, deadline in self.until.items() if deadline <= now]

    def settle(self, scope: tuple[str, ...] | None) -> None:
        """After a cycle over ``scope`` (None: everything), release what it did not keep."""
        for path in list(self.until):
            if path not in self.kept and (scope is None or path in scope):
                del self.until[path]
        self.kept.clear()


class ServiceCycle(Cycle):
    """A ``Cycle`` that honours the grace of gone files, over a scope or the whole tree."""

    def __init__(self, context: PairContext, hold: GoneHold, *,
                 scope: tuple[str, ...] | None = None, dataset_id: str = "",
                 stop: threading.Event | None = None) -> None:
        super().__init__(context, RunOptions(kind=RunKind.RECONCILE))
        self.known_task: KnownTask | None = None
        """The pair's task as an earlier cycle found it: a batch does not look it up again."""
        self.hold = hold
        self.clock = hold.clock
        self.unsettled: list[str] = []
        self.scope = scope
        self.dataset_id = dataset_id
        self.stop = stop or threading.Event()
        self.stopped = False
        """Set when ``stop`` ended the planning early: the jobs already sent were executed,
        nothing else (no moves, deletes or deferred uploads of this cycle)."""

    async def run(self) -> CycleResult:
        """A full reconcile (no scope), or one incremental batch that lists nothing remotely."""
        try:
            if self.scope is None:
                return await super().run()
            await anyio.to_thread.run_sync(self.check_roots)
            result = CycleResult(self.tally, dataset_id=self.dataset_id)
            self.tasks = await open_tasks(self.context, self.dataset_id, False, self.known_task)
            async with running_writer(self.store) as writer:
                target = Target(self.pair.source, self.dataset_id, self.pair.remote_dir,
                                self.pair_id, self.label_reader())
                result.limits = await self.execute(target, writer)
            return result
        finally:
            self.hold.settle(self.scope)

    def interrupted(self) -> bool:
        """True when ``stop`` ended the planning early (the run is recorded as interrupted)."""
        return self.stopped

    def plan_in_thread(self, send: ObjectSendStream[Job],
                       writer: StateWriter) -> tuple[Finale, int]:
        """Plan the scope (or everything) and hand jobs and writes over in batches, as the
        engine's walk does; files not yet settled are set aside."""
        handoff = Handoff(send, writer)

        def emit(job: Job) -> None:
            if self._settled(job):
                self.tally.plan(job.action.kind, job.action.size)
                handoff.job(self.admit(job))

        planner = self._planner(emit, handoff.write)
        with StateReader(self.store.path) as reader:
            deferred = planner.walk(reader)
        handoff.close()
        self.finish_walk(planner)
        if deferred.stopped:
            self.stopped = True
            return Finale((), (), (), ()), deferred.tracked
        finale = finish(deferred, self.pair_id)
        finale = replace(finale, uploads=tuple(j for j in finale.uploads if self._settled(j)))
        return self._hold_back(finale, start=self.scope is not None), deferred.tracked

    def _planner(self, emit: Callable[[Job], None],
                 record: Callable[[WriteOp], None]) -> Planner:
        """The engine's planner over everything, or a ``ScopedPlanner`` over the scope."""
        if self.scope is None:
            planner = Planner(self.source(), self.pair_id, self.policy(), emit, record)
        else:
            scoped = ScopedPlanner(self.source(), self.pair_id, self.policy(), emit, record)
            scoped.roots = self.scope
            planner = scoped
        planner.stop = self.stop.is_set
        return planner

    def _settled(self, job: Job) -> bool:
        """False (and the path set aside) when a job would send a file still being written."""
        local = job.local
        if job.action.kind not in _SENDS_CONTENT or local is None:
            return True
        if self.clock.wall() - local.mtime_ns / 1e9 >= self.pair.settle:
            return True
        self.unsettled.append(job.action.path)
        return False

    def _hold_back(self, finale: Finale, *, start: bool) -> Finale:
        """The finale without the deletes and deleted-marks of gone files still in grace."""
        deletes = tuple(job for job in finale.deletes
                        if job.state is None or not self.hold.keep(job.action.path, start=start))
        marks = tuple(op for op in finale.marks
                      if not (isinstance(op, MarkFile) and self.hold.keep(op.path, start=start)))
        return Finale(finale.moves, finale.uploads, deletes, marks)
