"""Carrying out one item's pull step: write, record, keep or report, and record it in state.

What a pull writes is recorded as the push side records a sync (annotation file stat, set hash,
and every annotation in the file as dlsync's own, by remote id), so a following ``dlsync
mirror`` finds nothing to send. Replacing an existing annotation file is destructive: the
executor runs it only when the destruction gate admitted the job.

The executor does not send its state writes itself: it adds them to the item's ``Landing``,
with the new Dataloop JSON file it wrote (not yet fsync'ed or in place), and the puller hands
the landing to ``durable.DurableBatches``, which records it once its files are durable.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import anyio

from dlsync import logs
from dlsync.destruction import DestructionGate
from dlsync.errors import AnnotationFileError, UngatedError
from dlsync.model import FileStatus, StateRecord
from dlsync.pull.document import RemoteDocument
from dlsync.pull.durable import Landing
from dlsync.pull.files import (
    FileStat,
    conflict_copy_of,
    conflict_name,
    local_set_hash,
    stat_of,
)
from dlsync.pull.plan import PullKind, PullStep
from dlsync.pull.source import RemoteEntry
from dlsync.pull.tally import PullTally
from dlsync.state.ops import AddAnnotations, MarkFile, RemoveAnnotations, UpsertFile, WriteOp

_log = logs.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PullJob:
    """One item's step with everything the executor needs to carry it out."""

    step: PullStep
    entry: RemoteEntry
    state: StateRecord
    document: RemoteDocument
    local_hash: str | None
    ticket: object | None = None

    @property
    def path(self) -> str:
        return self.step.path


@dataclass(slots=True)
class PullExecutor:
    """Runs pull jobs of one pair; what each did goes into its item's landing."""

    pair_id: int
    tally: PullTally
    gate: DestructionGate

    async def run(self, job: PullJob, landing: Landing) -> None:
        """Carry out ``job``'s step into ``landing`` (files, state writes, counts)."""
        kind = job.step.kind
        if kind is PullKind.REPLACE and not self.gate.admitted(job):
            raise UngatedError(f"replacing the annotation file of {job.path} did not come "
                               "through the destruction gate; refused")
        if kind in (PullKind.CREATE, PullKind.REPLACE):
            await self._write(job, landing)
        elif kind is PullKind.RECORD:
            self._record_in_sync(job, landing)
        elif kind is PullKind.KEEP_LOCAL:
            self._keep_local(job, landing)
        elif kind is PullKind.CONFLICT:
            await self._conflict(job, landing)
        elif kind is PullKind.RESOLVE:
            landing.ops.append(MarkFile(self.pair_id, job.state.path, FileStatus.SYNCED))
            landing.then.append(lambda: self.tally.count(kind.outcome))
        else:
            self.tally.count(kind.outcome)

    async def _write(self, job: PullJob, landing: Landing) -> None:
        """A new Dataloop JSON file is written unsynced into the landing; a replacement, or a
        file in a label format, is written atomically (fsync'ed, in a worker thread) at once."""
        target = job.step.file
        assert target is not None
        if job.step.kind is PullKind.REPLACE:
            self._check_unchanged(job, target)
        if job.step.kind is PullKind.CREATE and job.document.writer is None:
            # on the loop: without its fsync (the batch's, in a thread) the write costs less
            # than a hop to a worker thread
            written, stat = job.document.write_unsynced(target)
            landing.files.append(written)
        else:
            stat = await anyio.to_thread.run_sync(job.document.save, target)
        self._record(job, landing, job.document.parsed.set_hash, stat)

        def done() -> None:
            self.tally.count(job.step.kind.outcome)
            _log.info("annotations pulled", path=job.path, file=str(target),
                      replaced=job.step.kind is PullKind.REPLACE,
                      annotations=len(job.document.owned))

        landing.then.append(done)

    @staticmethod
    def _check_unchanged(job: PullJob, path: Path) -> None:
        """Refuse to replace a file that changed after it was read (retried next pull)."""
        before = FileStat(job.state.annotation_size, job.state.annotation_mtime_ns)
        if stat_of(path) != before and \
                local_set_hash(path, None, None, job.document.read_hash) != job.local_hash:
            raise AnnotationFileError(str(path), "changed while the pull read it; not "
                                      "replaced, retried next pull")

    def _record_in_sync(self, job: PullJob, landing: Landing) -> None:
        current, state = job.step.file, job.state
        stat = stat_of(current) if current is not None else FileStat(0, 0)
        hash_ = None if current is None else job.local_hash
        if state.status is FileStatus.SYNCED and state.annotations_hash == hash_ and \
                (state.annotation_size, state.annotation_mtime_ns) == (stat.size,
                                                                        stat.mtime_ns) and \
                sorted(state.annotation_ids) == sorted(job.document.owned):
            self.tally.count(PullKind.UNCHANGED.outcome)
            return
        self._record(job, landing, hash_, stat)
        outcome = PullKind.RESOLVE.outcome if state.status is FileStatus.CONFLICT \
            else PullKind.RECORD.outcome
        landing.then.append(lambda: self.tally.count(outcome))

    def _keep_local(self, job: PullJob, landing: Landing) -> None:
        """The local file wins: state takes the platform's set as seen, so the push diffs."""
        record = replace(job.state, annotations_hash=job.document.parsed.set_hash,
                         status=FileStatus.SYNCED, attempts=0, last_error=None)
        landing.ops.append(UpsertFile(self.pair_id, record))
        landing.then.append(lambda: self.tally.count(PullKind.KEEP_LOCAL.outcome))

    async def _conflict(self, job: PullJob, landing: Landing) -> None:
        target = job.step.file
        assert target is not None   # both sides changed: the local file exists
        copy = conflict_copy_of(target, job.document.parsed.set_hash, job.document.read_hash)
        if copy is None:
            copy = conflict_name(target)
            await anyio.to_thread.run_sync(job.document.save, copy)
        reason = job.step.reason.removesuffix(": both kept")
        why = (f"annotations {reason}; the local file {target.name} is kept and the platform's "
               f"version is in {copy.name}: merge them into {target.name} (or delete "
               f"{copy.name} to keep the local file), then pull again")
        landing.ops.append(MarkFile(self.pair_id, job.state.path, FileStatus.CONFLICT,
                                    job.state.attempts + 1, why))
        landing.then.append(lambda: self.tally.conflict(job.path, why))
        _log.warning("annotation conflict; both versions kept", path=job.path,
                     local=str(target), platform=str(copy))

    def _record(self, job: PullJob, landing: Landing, set_hash: str | None,
                stat: FileStat) -> None:
        record = replace(job.state, annotations_hash=set_hash, annotation_size=stat.size,
                         annotation_mtime_ns=stat.mtime_ns, status=FileStatus.SYNCED,
                         attempts=0, last_error=None)
        last = landing.ops[-1] if landing.ops else None
        if isinstance(last, UpsertFile) and last.record.path == record.path:
            landing.ops.pop()  # the item's download, which this fuller record supersedes
        landing.ops.extend(_record_ops(self.pair_id, job, record))


def _record_ops(pair: int, job: PullJob, record: StateRecord) -> list[WriteOp]:
    """The state writes that record ``job``'s item as synced with the platform's set."""
    item_id = job.entry.item["id"]
    ops: list[WriteOp] = [UpsertFile(pair, record)]
    before, after = set(job.state.annotation_ids), set(job.document.owned)
    gone = tuple(sorted({i for _, i in before} - {i for _, i in after}))
    if gone:
        ops.append(RemoveAnnotations(pair, item_id, gone))
    added = tuple(sorted(after - before))
    if added:
        ops.append(AddAnnotations(pair, item_id, added))
    return ops
