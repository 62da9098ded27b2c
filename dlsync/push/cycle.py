"""One sync cycle of one pair: list the remote, plan against scan and state, execute, record.

    remote listing ─► state cache ─┐
    scan (thread) ─────────────────┼─► march ─► decide ─► jobs ─► workers ─► client
    state (thread) ────────────────┘                              │
                                    state writer ◄── results ◄────┘

``mirror`` is the whole of ``dlsync mirror`` and one reconcile of the service. Deletes run last,
only after a cycle without errors, and only within the safety limits (DESIGN.md decision 7).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio
import anyio.from_thread
import anyio.to_thread

from dlsync import logs
from dlsync.clock import Clock, SystemClock
from dlsync.config import LabelPolicy
from dlsync.constants import BACKUP_DATE_FORMAT, JOBS_PER_WORKER
from dlsync.destruction import DestructionGate, Limits
from dlsync.errors import DlsyncError, is_fatal, primary
from dlsync.local.ignore import IgnoreRules
from dlsync.local.labelformat import LabelReader, reader_for
from dlsync.model import Action, ActionKind, ConflictPolicy
from dlsync.pairs import PairContext, check_pair_roots
from dlsync.push.decide import Policy, group_folder_moves
from dlsync.push.executor import Executor
from dlsync.push.handoff import Handoff
from dlsync.push.job import Job, Sinks, Target, preview_removal
from dlsync.push.labels import LabelKeeper, planned_labels, report
from dlsync.push.listing import Lister, ListingReport
from dlsync.push.plan import LimitVerdict, Plan
from dlsync.push.planner import Finale, Planner, Source, finish
from dlsync.push.tally import Tally
from dlsync.push.tasks import CycleTasks, open_tasks
from dlsync.remote.dataset import FolderListing, resolve_dataset
from dlsync.remote.types import ItemJson
from dlsync.state.ops import FinishRun, RunKind, RunOutcome, StartRun, new_run_id
from dlsync.state.queries import StateReader
from dlsync.state.writer import StateWriter, running_writer

_log = logs.get_logger(__name__)

ProgressHook = Callable[[Job], None]


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How to run a cycle (not what to sync: that is the ``PairConfig``)."""

    dry_run: bool = False
    kind: RunKind = RunKind.MIRROR
    backfill: bool = False       # add the pair's synced items in no task yet to its task
    full_listing: bool = False   # list the whole remote folder, not only what changed


@dataclass(slots=True)
class CycleResult:
    """What a cycle did: the tally, the dry-run plan, and the delete verdict."""

    tally: Tally
    plan: Plan | None = None
    limits: LimitVerdict | None = None
    remote_items: int = 0
    dataset_id: str = ""
    listing: ListingReport | None = None

    @property
    def refused_by_limit(self) -> bool:
        """True when the safety limit (not an error) stopped the deletes."""
        return self.limits is not None and not self.limits.allowed


def backup_folder(backup_dir: str, now: float | None = None) -> str:
    """The dated folder of ``backup_dir`` that this run's deleted items move into."""
    stamp = time.strftime(BACKUP_DATE_FORMAT, time.gmtime(time.time() if now is None else now))
    return f"{backup_dir.rstrip('/')}/{stamp}"


class Cycle:
    """One cycle of one pair against one open client and state database."""

    def __init__(self, context: PairContext, options: RunOptions,
                 progress: ProgressHook | None = None, tally: Tally | None = None) -> None:
        self.context = context
        self.pair = context.pair
        self.client = context.client
        self.store = context.store
        self.pair_id = context.pair_id
        self.options = options
        self.tally = tally or Tally()
        self._progress = progress
        self.gate: DestructionGate | None = None
        self._label_reader: LabelReader | None = None
        self.labels: LabelKeeper | None = None
        self.tasks: CycleTasks | None = None
        self.clock: Clock = SystemClock()

    def _source(self) -> Source:
        rules = IgnoreRules.for_root(self.pair.source, self.pair.ignore)
        return Source(self.pair.source, rules, self.pair.annotations, self.pair.follow_symlinks,
                      self.label_reader())

    def label_reader(self) -> LabelReader | None:
        """How this cycle reads YOLO or VOC label files (``None``: Dataloop JSON)."""
        if self._label_reader is None and not self.pair.annotations.is_dataloop:
            self._label_reader = reader_for(self.pair.annotations, self.pair.source,
                                            self.pair.classes)
        return self._label_reader

    async def run(self) -> CycleResult:
        """List, plan, execute and record one cycle."""
        await anyio.to_thread.run_sync(self.check_roots)
        await anyio.to_thread.run_sync(self.label_reader)  # a bad classes file: before the API
        dataset_id = await resolve_dataset(self.client, self.pair)
        result = CycleResult(self.tally, dataset_id=dataset_id)
        if self.pair.labels is LabelPolicy.ENSURE:
            self.labels = LabelKeeper(self.client, dataset_id)
        self.tasks = await open_tasks(self.context, dataset_id, self.options.backfill)
        observe = self.tasks.census.observe if self.tasks is not None else None
        run_id = new_run_id()
        record = not self.options.dry_run
        try:
            async with running_writer(self.store) as writer:
                if record:
                    await writer.send(StartRun(self.pair_id, run_id, self.options.kind,
                                               time.time()))
                result.listing = await self._list(writer, dataset_id, observe)
                result.remote_items = result.listing.listed
                if self.tasks is not None:
                    await self.tasks.after_listing(writer, self.tally, record)
                await writer.flush()
                target = Target(self.pair.source, dataset_id, self.pair.remote_dir,
                                self.pair_id, self.label_reader())
                if self.options.dry_run:
                    result.plan, result.limits = await self._dry_run()
                else:
                    result.limits = await self._execute(target, writer)
                    await writer.send(self._finish(run_id, None))
        except BaseException as exc:
            # The writer has stopped (committing what it was sent); record the end directly.
            cause = primary(exc)
            if record:
                self._record_end(run_id, cause)
            if cause is exc:
                raise
            raise cause from exc
        return result

    async def _list(self, writer: StateWriter, dataset_id: str,
                    observe: Callable[[ItemJson], None] | None) -> ListingReport:
        """Bring the remote cache up to date: incrementally when it can (push/listing.py)."""
        with StateReader(self.store.path) as reader:
            mark = reader.listing_mark(self.pair_id)
        forced = "--full-listing" if self.options.full_listing else \
            "--task-backfill" if self.options.backfill else None
        folder = FolderListing(self.client, dataset_id, self.pair.remote_dir,
                               self.pair.backup_dir)
        return await Lister(folder, self.pair, self.pair_id, self.clock.wall(),
                            observe).run(writer, mark, forced)

    def _record_end(self, run_id: str, exc: BaseException) -> None:
        try:
            self.store.write([self._finish(run_id, exc)])
        except DlsyncError as failure:  # e.g. the disk is still full: keep the first error
            _log.error("could not record the end of the run", error=str(failure))

    def _finish(self, run_id: str, exc: BaseException | None) -> FinishRun:
        """The record of how the run ended."""
        if exc is None and self.interrupted():
            outcome = RunOutcome.INTERRUPTED
        elif exc is None:
            outcome = RunOutcome.PARTIAL if self.tally.has_errors or \
                self.tally.deletes_refused else RunOutcome.OK
        elif isinstance(exc, DlsyncError):
            outcome = RunOutcome.FAILED
        else:
            outcome = RunOutcome.INTERRUPTED
        error = logs.scrub(str(exc)) if exc is not None else self.tally.deletes_refused
        return FinishRun(run_id, time.time(), outcome, self.tally.counts(),
                         self.tally.bytes_sent, error)

    def _policy(self) -> Policy:
        return Policy(delete=self.pair.delete,
                      push_over_conflicts=self.pair.conflict is ConflictPolicy.LOCAL,
                      delete_excluded=self.pair.delete_excluded)

    def admit(self, job: Job) -> Job:
        """``job`` as the workers may run it: an overwrite passes the destruction gate."""
        if job.action.kind is ActionKind.OVERWRITE:
            assert self.gate is not None
            return self.gate.admit_overwrite(job)
        return job

    def check_roots(self) -> None:
        """Stop (exit 4) before any change when a root state tracks files in looks unmounted."""
        check_pair_roots(self.pair, self.store, self.pair_id)

    def _counted(self, gate: DestructionGate, tracked: int) -> DestructionGate:
        """``gate`` with what its half rules compare against: the files the walk saw tracked,
        and (only when annotations are to be removed) how many dlsync owns on the pair."""
        gate.tracked_files = tracked
        if gate.counts.annotation_deletes:
            with StateReader(self.store.path) as reader:
                gate.owned_annotations = reader.owned_annotations(self.pair_id)
        return gate

    def finish_walk(self, planner: Planner) -> None:
        """Count what the walk decided to keep rather than delete."""
        self.tally.annotations_kept += planner.kept_annotations
        self.tally.excluded_kept += planner.excluded_kept

    # -- dry run -----------------------------------------------------------------------------

    async def _dry_run(self) -> tuple[Plan, LimitVerdict]:
        plan = Plan()
        jobs: list[Job] = []

        def walk() -> tuple[Finale, int]:
            planner = Planner(self._source(), self.pair_id, self._policy(), jobs.append,
                              lambda op: None)
            with StateReader(self.store.path) as reader:
                deferred = planner.walk(reader)
            self.finish_walk(planner)
            plan.kept_annotations = planner.kept_annotations
            plan.excluded_kept = planner.excluded_kept
            return finish(deferred, self.pair_id), deferred.tracked

        finale, tracked = await anyio.to_thread.run_sync(walk)
        self.gate = DestructionGate(Limits.of(self.pair))
        for job in (*jobs, *finale.moves, *finale.uploads):
            if job.action.kind is ActionKind.OVERWRITE:
                self.gate.admit_overwrite(job)
            plan.add(job.action)
            preview = preview_removal(job)
            if preview is not None:
                self.gate.defer(preview)
        for job in finale.deletes:
            self.gate.defer(job)
        for job in self.gate.deferred:
            plan.add(job.action)
        if self.labels is not None:
            plan.labels = await self.labels.preview(planned_labels(
                job.annotations for job in (*jobs, *finale.moves, *finale.uploads)))
        if self.tasks is not None:
            plan.task = self.tasks.preview(plan)
        release = self._counted(self.gate, tracked).release(dry_run=True, had_errors=False)
        return plan, LimitVerdict(release.allowed, release.reason)

    # -- real run ----------------------------------------------------------------------------

    async def _execute(self, target: Target, writer: StateWriter) -> LimitVerdict | None:
        reader = StateReader(self.store.path)
        try:
            sinks = Sinks(writer, self.tally, self._progress or (lambda job: None))
            executor = Executor(self.client, target, sinks,
                                lambda item_id: reader.annotation_ids(self.pair_id, item_id))
            executor.item.gate = self.gate = DestructionGate(Limits.of(self.pair))
            if self.pair.labels is LabelPolicy.ENSURE:
                self.labels = self.labels or LabelKeeper(self.client, target.dataset_id)
                executor.item.labels = self.labels
                self.labels.gate = self.gate
            if self.pair.task is not None:
                self.tasks = self.tasks or await open_tasks(self.context, target.dataset_id,
                                                            backfill=False)
                assert self.tasks is not None
                self.tasks.keeper.writer, self.tasks.keeper.tally = writer, self.tally
                executor.item.tasks = self.tasks.keeper
            send, receive = anyio.create_memory_object_stream[Job](
                self.pair.workers * JOBS_PER_WORKER)
            async with anyio.create_task_group() as tg:
                tg.start_soon(executor.serve, receive, self.pair.workers)
                async with send:
                    finale, tracked = await anyio.to_thread.run_sync(
                        self.plan_in_thread, send, writer)
                    await self._after_walk(executor, finale, send, writer)
            if self.labels is not None:
                report(self.labels, self.tally)
            if self.tasks is not None:
                await self.tasks.keeper.flush()
            return await self._deletes(executor, finale, tracked)
        finally:
            reader.close()

    async def _after_walk(self, executor: Executor, finale: Finale,
                          send: anyio.abc.ObjectSendStream[Job], writer: StateWriter) -> None:
        await self._moves(executor, finale.moves, send)
        for job in finale.uploads:
            self.tally.plan(job.action.kind, job.action.size)
            await send.send(job)
        for op in finale.marks:
            await writer.send(op)

    # -- hooks for cycles built on this one (the service's incremental batches) ---------------

    def interrupted(self) -> bool:
        """True when the cycle was told to stop before it planned every path; its run is then
        recorded as interrupted. A cycle that can be stopped (the service's) overrides it."""
        return False

    def source(self) -> Source:
        """The local side of the pair, as the planner reads it."""
        return self._source()

    def policy(self) -> Policy:
        """The decision rules' settings for the pair."""
        return self._policy()

    async def execute(self, target: Target, writer: StateWriter) -> LimitVerdict | None:
        """Plan (``plan_in_thread``) and execute against ``target`` without listing the remote
        first; return the delete verdict."""
        return await self._execute(target, writer)

    def plan_in_thread(self, send: anyio.abc.ObjectSendStream[Job],
                       writer: StateWriter) -> tuple[Finale, int]:
        """Walk and plan in a worker thread: jobs into ``send``, state writes into ``writer``;
        return what waits for the end of the walk and how many files state tracks. A subclass
        overrides it to plan differently (a scope of paths, files set aside)."""
        return self._walk_in_thread(send, writer)

    def _walk_in_thread(self, send: anyio.abc.ObjectSendStream[Job],
                        writer: StateWriter) -> tuple[Finale, int]:
        handoff = Handoff(send, writer)

        def emit(job: Job) -> None:
            self.tally.plan(job.action.kind, job.action.size)
            handoff.job(self.admit(job))

        planner = Planner(self._source(), self.pair_id, self._policy(), emit, handoff.write)
        with StateReader(self.store.path) as reader:
            deferred = planner.walk(reader)
        handoff.close()
        self.finish_walk(planner)
        return finish(deferred, self.pair_id), deferred.tracked

    async def _moves(self, executor: Executor, moves: tuple[Job, ...],
                     send: anyio.abc.ObjectSendStream[Job]) -> None:
        """Folder renames as one bulk move each; other moves one by one through the workers."""
        by_path = {job.action.path: job for job in moves}
        folders, renames = group_folder_moves(job.action for job in moves)
        singles: list[Action] = list(renames)
        for folder in folders:
            if len(folder.moves) < 2:
                singles.extend(folder.moves)
                continue
            ids = [m.item_id for m in folder.moves if m.item_id is not None]
            target = self.pair.remote_dir.rstrip("/") + ("/" + folder.target_dir
                                                         if folder.target_dir else "")
            for move in folder.moves:
                self.tally.plan(move.kind, move.size)
            try:
                await self.client.move_items(executor.target.dataset_id, ids, target or "/")
            except DlsyncError as exc:
                if is_fatal(exc):
                    raise
                _log.warning("bulk move failed; moving one by one", folder=target,
                             error=str(exc))
                for move in folder.moves:
                    await send.send(by_path[move.path])
                continue
            for move in folder.moves:
                await executor.record_moved(by_path[move.path])
                executor.progressed(by_path[move.path])
        for move in singles:
            self.tally.plan(move.kind, move.size)
            await send.send(by_path[move.path])

    async def _deletes(self, executor: Executor, finale: Finale,
                       tracked: int) -> LimitVerdict | None:
        """Last: the deletes the destruction gate releases (item deletes, then annotations)."""
        gate = self.gate
        assert gate is not None
        for job in finale.deletes:
            gate.defer(job)
        if not gate.deferred:
            return None
        release = self._counted(gate, tracked).release(dry_run=False,
                                                       had_errors=self.tally.has_errors)
        if release.reason:
            self.tally.deletes_refused = release.reason
        if self.pair.backup_dir is not None and release.items:
            await executor.back_up(release.items, backup_folder(self.pair.backup_dir))
            self.tally.backup_dir = backup_folder(self.pair.backup_dir)
        else:
            for job in release.items:
                self.tally.plan(job.action.kind)
                await executor.execute(job)
        for job in release.annotations:
            self.tally.plan(job.action.kind)
            await executor.execute(job)
        return LimitVerdict(release.allowed, release.reason)
