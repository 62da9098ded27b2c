"""One pull of one pair: the platform's annotations (and, asked, its items) into the local folder.

    source (batches of items with their annotations) ─► facts per item ─► plan.step_for
        ─► dry run: PullPlan (printed)   |   real run: destruction gate ─► PullExecutor

For each item the platform lists (all of them on a full pull, those touched since the
watermark otherwise, plus every item state holds in conflict) the puller gathers the facts
(state, the file on disk, the three annotation sets, base, local and remote) and asks the pure
rules (``rules.decide_pull``, ``plan.step_for``) for a step. A dry run prints the steps; a real
run carries each out through ``executor.PullExecutor`` (a replaced local file passes the
destruction gate first).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from dlsync import logs
from dlsync.constants import FINGERPRINT_KEY, PULL_BATCH, PULL_DURABLE_FILES, PULL_OVERLAP_S
from dlsync.destruction import DestructionGate, Limits
from dlsync.errors import AnnotationFileError, DlsyncError, is_fatal, primary
from dlsync.model import FileStatus, StateRecord
from dlsync.pairs import PairContext, check_pair_roots
from dlsync.pull.document import RemoteDocument, remote_document, view
from dlsync.pull.download import Fetch, download_item
from dlsync.pull.durable import DurableBatches, Landing, durable_batches
from dlsync.pull.executor import PullExecutor, PullJob
from dlsync.pull.files import (
    FileStat,
    conflict_files,
    find_annotation_file,
    local_set_hash,
    new_annotation_file,
)
from dlsync.pull.plan import (
    ItemFacts,
    PullKind,
    PullPlan,
    PullStep,
    step_for,
    step_without_annotations,
)
from dlsync.pull.review import ReviewGate, review_gate
from dlsync.pull.rules import PullVerdict, decide_pull
from dlsync.pull.source import RemoteEntry, changed_batches, full_batches, latest_stamp
from dlsync.pull.tally import PullTally
from dlsync.remote import dql
from dlsync.remote.dataset import resolve_dataset
from dlsync.remote.fingerprint import fingerprint_metadata, read_fingerprint
from dlsync.state.ops import (
    FinishRun,
    RunKind,
    RunOutcome,
    SetMeta,
    StartRun,
    UpsertFile,
    new_run_id,
)
from dlsync.state.queries import StateReader
from dlsync.state.writer import running_writer

if TYPE_CHECKING:
    from dlsync.local.layout import AnnotationLayout
    from dlsync.pull.formatwrite import FormatFiles

_log = logs.get_logger(__name__)


def watermark_key(pair_id: int) -> str:
    """The state meta key holding a pair's pull watermark."""
    return f"pull-watermark/{pair_id}"


@dataclass(frozen=True, slots=True)
class PullOptions:
    """How to run a pull (what to pull is the ``PairConfig``)."""

    items: bool = False          # also download items missing locally
    full: bool = False           # look at every item, not only those changed since last time
    dry_run: bool = False        # decide and print the plan, write nothing
    kind: RunKind = RunKind.PULL


@dataclass(slots=True)
class PullResult:
    """What a pull did: the tally, the dataset, whether it was full, the new watermark, and
    (dry run) the plan."""

    tally: PullTally
    dataset_id: str = ""
    full: bool = True
    watermark: str | None = None
    plan: PullPlan | None = None

    @property
    def has_problems(self) -> bool:
        """True when an item failed or is in conflict (exit code 1)."""
        return self.tally.failures > 0 or self.tally.conflicts > 0


class Puller:
    """Pulls one pair against one open client and state database."""

    def __init__(self, context: PairContext, options: PullOptions, *,
                 fetch: Fetch | None = None, tally: PullTally | None = None) -> None:
        self.context = context
        self.pair = context.pair
        self.pair_id = context.pair_id
        self.options = options
        self.tally = tally or PullTally()
        client = context.client
        self._fetch = fetch or (lambda item_id, offset: client.download(item_id, offset=offset))
        self.plan = PullPlan()
        self.gate = DestructionGate(Limits.of(context.pair))
        self._executor: PullExecutor | None = None
        self._batches: DurableBatches | None = None
        self._fresh = False
        self._reader: StateReader | None = None
        layout = context.pair.annotations
        self._files = None if layout.is_dataloop else \
            _format_files(layout, context)
        self._review: ReviewGate | None = None

    @property
    def root(self) -> Path:
        return self.pair.source

    async def run(self) -> PullResult:
        """Pull once: list what changed, settle every item, record the new watermark.

        A root with tracked files that looks unmounted stops the pull before anything is
        written (``EmptyRootError``, exit 4): files never go into an empty mount point."""
        try:
            return await self._run()
        finally:
            if self._files is not None:
                self._files.close()

    async def _run(self) -> PullResult:
        context = self.context
        await anyio.to_thread.run_sync(check_pair_roots, self.pair, context.store,
                                       self.pair_id)
        dataset_id = await resolve_dataset(context.client, self.pair)
        self._review = await review_gate(context.client, self.pair, dataset_id)
        result = PullResult(self.tally, dataset_id,
                            plan=self.plan if self.options.dry_run else None)
        with StateReader(context.store.path) as reader:
            self._reader = reader
            since = None if self.options.full else self._watermark(reader)
            # a checkout into fresh state: no item has a record, none is looked up
            self._fresh = self.options.items and not reader.has_records(self.pair_id)
            result.full = since is None
            result.watermark = await latest_stamp(context.client, dataset_id)
            if self.options.dry_run:
                await self._all_batches(dataset_id, since, reader)
                return result
            run_id = new_run_id()
            try:
                await self._record_run(run_id, dataset_id, since, result)
            except BaseException as exc:
                # The writer has stopped (committing what it was sent); record the end directly.
                self._record_end(run_id, primary(exc))
                raise
        return result

    async def _record_run(self, run_id: str, dataset_id: str, since: str | None,
                          result: PullResult) -> None:
        """Settle every batch between the run's start and finish records."""
        assert self._reader is not None
        async with running_writer(self.context.store) as writer:
            self._executor = PullExecutor(self.pair_id, self.tally, self.gate)
            await writer.send(StartRun(self.pair_id, run_id, self.options.kind, time.time()))
            async with durable_batches(writer, self.context.store) as batches:
                self._batches = batches
                await self._all_batches(dataset_id, since, self._reader)
            if not self.tally.failures and result.watermark is not None:
                await writer.send(SetMeta(watermark_key(self.pair_id), {
                    "stamp": result.watermark, "target": self._target()}))
            await writer.send(self._finish(run_id, None))

    def _record_end(self, run_id: str, exc: BaseException) -> None:
        try:
            self.context.store.write([self._finish(run_id, exc)])
        except DlsyncError as failure:  # e.g. the disk is still full: keep the first error
            _log.error("could not record the end of the pull", error=str(failure))

    def _target(self) -> list[str]:
        pair = self.pair
        return [pair.remote.url, pair.project, pair.dataset, pair.remote_dir]

    def _watermark(self, reader: StateReader) -> str | None:
        mark = reader.meta(watermark_key(self.pair_id))
        if not isinstance(mark, dict) or mark.get("target") != self._target():
            return None
        stamp = mark.get("stamp")
        return stamp if isinstance(stamp, str) else None

    async def _all_batches(self, dataset_id: str, since: str | None,
                           reader: StateReader) -> None:
        client = self.context.client
        if since is None:
            batches = full_batches(client, dataset_id, self.pair.remote_dir)
        else:
            also = [r.item_id for r in reader.in_conflict(self.pair_id) if r.item_id]
            batches = changed_batches(client, dataset_id, self.pair.remote_dir,
                                      dql.behind(since, PULL_OVERLAP_S), also=also)
        limiter = anyio.CapacityLimiter(max(1, self.pair.workers))
        # items of the next batch start while the last ones of this batch wait for their files
        # to be durable; at most two batches' items are under way, and at most
        # PULL_DURABLE_FILES items hold written files (two descriptors at most each) at once
        live = anyio.Semaphore(2 * PULL_BATCH)
        holding = anyio.CapacityLimiter(PULL_DURABLE_FILES)
        async with anyio.create_task_group() as tg:
            async for batch in batches:
                for entry in batch:
                    await live.acquire()
                    tg.start_soon(self._guarded, entry, (limiter, holding), live)

    def _finish(self, run_id: str, exc: BaseException | None) -> FinishRun:
        """The record of how the pull ended."""
        if exc is None:
            outcome = RunOutcome.PARTIAL if self.tally.failures or self.tally.conflicts \
                else RunOutcome.OK
        else:
            outcome = RunOutcome.FAILED if isinstance(exc, DlsyncError) \
                else RunOutcome.INTERRUPTED
        return FinishRun(run_id, time.time(), outcome, dict(self.tally.outcomes),
                         self.tally.bytes_received,
                         logs.scrub(str(exc)) if exc is not None else None)

    # -- one item ----------------------------------------------------------------------------

    async def _guarded(self, entry: RemoteEntry,
                       limits: tuple[anyio.CapacityLimiter, anyio.CapacityLimiter],
                       live: anyio.Semaphore) -> None:
        """One item: worked on under the worker limit, then (outside it) made durable and
        recorded; an item's failure is counted and logged, and ends only that item."""
        workers, holding = limits
        landing = Landing()
        try:
            async with holding:
                async with workers:
                    failure = await self._one(entry, landing)
                if self._batches is not None:
                    await self._batches.land(landing)
            if failure is not None:
                raise failure
        except (DlsyncError, AnnotationFileError) as exc:
            landing.discard()
            if is_fatal(exc):
                raise
            reason = logs.scrub(str(exc))
            self.tally.failed(entry.path, reason)
            _log.warning("pull of an item failed; retried next pull", path=entry.path,
                         error=reason)
        except BaseException:
            landing.discard()
            raise
        finally:
            live.release()

    async def _one(self, entry: RemoteEntry, landing: Landing) -> DlsyncError | None:
        """Settle one item into ``landing``. When its annotations fail after its download,
        the download alone stays in the landing (placed and recorded, so the next pull only
        looks at the annotations again) and the failure is returned."""
        assert self._reader is not None
        state = None if self._fresh else self._reader.file(self.pair_id, entry.path)
        media = self.root / entry.path
        facts = ItemFacts(entry.path, state, media.exists(), self.pair.annotations.kind,
                          self.options.items, link=link_of(entry.item),
                          reviewed=self._review is None
                          or self._review.admits(entry.item))
        quick = step_without_annotations(facts)
        if quick is not None and quick.kind is PullKind.DOWNLOAD and not self.options.dry_run:
            state = await self._download(entry, media, landing)
            facts = replace(facts, state=state, media_exists=True)
            quick = step_without_annotations(facts)
        if quick is not None:
            await self._settle(quick, None, landing)
            return None
        assert state is not None
        if not landing.files:
            await self._annotations(entry, state, facts, landing)
            return None
        downloaded = landing.mark()
        try:
            await self._annotations(entry, state, facts, landing)
        except DlsyncError as exc:
            if is_fatal(exc):
                raise
            landing.rewind(downloaded)
            return exc
        return None

    def _document(self, entry: RemoteEntry) -> RemoteDocument:
        """The file the platform's annotations of ``entry`` make, in the pair's format."""
        return remote_document(entry) if self._files is None else self._files.document(entry)

    async def _annotations(self, entry: RemoteEntry, state: StateRecord,
                           facts: ItemFacts, landing: Landing) -> None:
        document = self._document(entry)
        current = find_annotation_file(self.root, self.pair.annotations, entry.path) \
            if self._files is None else self._files.current(entry.path)
        recorded = FileStat(state.annotation_size, state.annotation_mtime_ns)
        local_hash = local_set_hash(current, recorded, state.annotations_hash,
                                    document.read_hash)
        decision = decide_pull(view(state.annotations_hash), view(local_hash),
                               view(document.parsed.set_hash), self.pair.conflict)
        settled = state.status is FileStatus.CONFLICT and \
            decision.verdict is PullVerdict.CONFLICT and current is not None and \
            not conflict_files(current)
        facts = replace(facts, decision=decision, current=current, conflict_copy_gone=settled)
        target = None if current is not None else \
            new_annotation_file(self.root, self.pair.annotations, entry.path) \
            if self._files is None else self._files.new_file(entry.path)
        step = step_for(facts, target)
        await self._settle(step, PullJob(step, entry, state, document, local_hash), landing)

    async def _settle(self, step: PullStep, job: PullJob | None, landing: Landing) -> None:
        """Plan the step (dry run) or carry it out; a replacement passes the gate first."""
        if self.options.dry_run:
            self.plan.add(step)
            return
        if job is None:
            self.tally.count(step.kind.outcome)
            return
        if step.kind is PullKind.REPLACE:
            job = self.gate.admit_replacement(job)
        assert self._executor is not None
        await self._executor.run(job, landing)

    async def _download(self, entry: RemoteEntry, media: Path, landing: Landing) -> StateRecord:
        """Fetch and verify the item's file into ``landing``; the record it will have."""
        size = int((entry.item.get("metadata") or {}).get("system", {}).get("size") or 0)
        mark = read_fingerprint(entry.item)
        sha = mark.get("sha256") if isinstance(mark.get("sha256"), str) else None
        done = await download_item(self._fetch, entry.item["id"], media, size, sha)
        landing.files.append(done.part)
        self.tally.bytes_received += done.fetched
        record = StateRecord(path=entry.path, size=size, mtime_ns=done.mtime_ns,
                             inode=done.inode, sha256=done.fingerprint.sha256,
                             item_id=entry.item["id"], annotations_hash=None,
                             status=FileStatus.SYNCED)
        landing.ops.append(UpsertFile(self.pair_id, record))
        landing.then.append(self.tally.count_download)
        if sha is None:
            await self._adopt_fingerprint(entry, done.fingerprint.sha256, size)
        return record

    async def _adopt_fingerprint(self, entry: RemoteEntry, sha256: str, size: int) -> None:
        """Give an item dlsync never uploaded its fingerprint, so a push sees it in sync."""
        try:
            document = self._document(entry)
            set_hash = None if view(document.parsed.set_hash).empty \
                else document.parsed.set_hash
        except AnnotationFileError:
            set_hash = None
        mark: dict[str, Any] = {FINGERPRINT_KEY: fingerprint_metadata(sha256, size, set_hash)}
        await self.context.client.patch_item(entry.item["id"], {"metadata": {"user": mark}})


def _format_files(layout: AnnotationLayout, context: PairContext) -> FormatFiles:
    """The YOLO/VOC/COCO writer of a pair in a label format (imported only then: a Dataloop
    JSON pull does not load the codecs)."""
    from dlsync.pull.formatwrite import FormatFiles

    return FormatFiles.open(layout, context.pair.source, context.pair.classes)


def link_of(item: Mapping[str, Any]) -> str | None:
    """Where a link item's content lives (``metadata.system.shebang.linkInfo.ref``), or None
    for an ordinary item."""
    shebang = ((item.get("metadata") or {}).get("system") or {}).get("shebang")
    info = shebang.get("linkInfo") if isinstance(shebang, dict) else None
    ref = info.get("ref") if isinstance(info, dict) else None
    return str(ref) if ref else None


async def poll_annotations(context: PairContext, *, full: bool = False) -> PullResult:
    """One incremental pull of ``pair``'s annotations, for the service's reconcile interval.

    The caller holds the pair's lock and an open client; the first poll (no watermark yet) or
    ``full=True`` looks at every item.
    """
    options = PullOptions(full=full, kind=RunKind.PULL)
    return await Puller(context, options).run()
