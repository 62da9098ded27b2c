"""Workers that carry out planned jobs against the remote and report results to state.

Jobs arrive through a bounded anyio stream; ``workers`` tasks take them concurrently and share
the client's pacer. Each job ends in exactly one outcome in the tally and, unless it was passed
over, one state write through the single writer. A file is recorded as synced only after the
remote confirmed it with the content that was hashed (DESIGN.md decisions 2-4).

Errors are acted on by class (``is_fatal``): a fatal one stops the run, anything else fails
only its item, which is retried next run.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import ObjectReceiveStream

from dlsync import logs
from dlsync.constants import FINGERPRINT_KEY
from dlsync.errors import (
    DlsyncError,
    FileChangedError,
    FileVanishedError,
    NotFoundError,
    TruncatedUploadError,
    UngatedError,
    is_fatal,
)
from dlsync.model import (
    DESTRUCTIVE_KINDS,
    ActionKind,
    FileStatus,
    LocalEntry,
    StateRecord,
    remote_filename,
)
from dlsync.push.annotate import Owned
from dlsync.push.itemstep import ItemStep, Landed
from dlsync.push.job import Job, Sinks, Target
from dlsync.remote.client import DataloopClient
from dlsync.remote.fingerprint import read_fingerprint
from dlsync.remote.types import CheckedFile, UploadOp, UploadResult
from dlsync.state.ops import DeleteFile, MarkFile, UpsertFile
from dlsync.streams import take

if TYPE_CHECKING:
    from dlsync.destruction import DestructionGate

_log = logs.get_logger(__name__)

OwnedLookup = Callable[[str], Owned]


class Executor:
    """Runs jobs: uploads, moves, annotation diffs, deletes; records every outcome."""

    def __init__(self, client: DataloopClient, target: Target, sinks: Sinks,
                 owned: OwnedLookup) -> None:
        self.client = client
        self.target = target
        self.sinks = sinks
        self.writer = sinks.writer
        self.tally = sinks.tally
        self.item = ItemStep(client, target, sinks, owned)

    @property
    def gate(self) -> DestructionGate | None:
        """Admits destructive jobs (the item step's, set by the cycle); without one, the
        executor refuses every such job."""
        return self.item.gate

    async def serve(self, jobs: ObjectReceiveStream[Job], workers: int) -> None:
        """Take jobs from ``jobs`` with ``workers`` concurrent tasks until the stream ends."""
        async with jobs, anyio.create_task_group() as tg:
            for _ in range(max(1, workers)):
                tg.start_soon(self._worker, jobs)

    async def _worker(self, jobs: ObjectReceiveStream[Job]) -> None:
        while True:
            try:
                job = await take(jobs)  # a queued job is taken without a turn of the loop
            except anyio.EndOfStream:
                return
            await self.execute(job)

    async def execute(self, job: Job) -> None:
        """Carry out one job; per-item failures are recorded, fatal ones propagate."""
        action = job.action
        try:
            await self._dispatch(job)
        except FileVanishedError:
            self.tally.skipped(action.kind)
            _log.info("file vanished before upload; skipped", path=action.path)
        except FileChangedError as exc:
            self.tally.skipped(action.kind)
            await self._record_failure(job, str(exc), FileStatus.PENDING)
            _log.info("file changed while read; will retry once it settles", path=action.path)
        except DlsyncError as exc:
            if is_fatal(exc):
                raise
            self.tally.failed(action.kind, action.path, logs.scrub(str(exc)))
            await self._record_failure(job, logs.scrub(str(exc)), FileStatus.FAILED)
            _log.warning("action failed; will retry next run", action=action.kind.value,
                         path=action.path, error=logs.scrub(str(exc)))
        finally:
            self.progressed(job)

    def progressed(self, job: Job) -> None:
        """Tell the progress display that ``job`` ended."""
        self.sinks.progress(job)

    def _check_admitted(self, job: Job) -> None:
        if job.action.kind in DESTRUCTIVE_KINDS and (self.gate is None
                                                      or not self.gate.admitted(job)):
            raise UngatedError(f"{job.action.kind.value} of {job.action.path} did not come "
                               "through the destruction gate; refused")

    async def _dispatch(self, job: Job) -> None:
        self._check_admitted(job)
        kind = job.action.kind
        if kind in (ActionKind.UPLOAD, ActionKind.REUPLOAD):
            await self._upload(job, "skip")
        elif kind is ActionKind.OVERWRITE:
            await self._upload(job, "overwrite")
        elif kind in (ActionKind.ADOPT, ActionKind.ANNOTATE, ActionKind.UPDATE_METADATA):
            await self._adopt(job)
        elif kind is ActionKind.MOVE:
            await self._move(job)
        elif kind is ActionKind.DELETE:
            await self._delete(job)
        elif kind is ActionKind.DELETE_ANNOTATIONS:
            await self.item.remove_annotations(job)
        elif kind is ActionKind.EXCLUDED:
            self.tally.excluded(kind)
        elif kind is ActionKind.CONFLICT:
            self.tally.conflict(kind, job.action.path, job.action.reason)
            await self._record_failure(job, job.action.reason, FileStatus.CONFLICT)
        else:
            self.tally.failed(kind, job.action.path, job.action.reason)

    # -- uploads -----------------------------------------------------------------------------

    def _path(self, local: LocalEntry) -> str:
        return os.path.join(self.target.root, local.disk_path)

    def _check_unchanged(self, local: LocalEntry) -> None:
        path = self._path(local)
        try:
            st = os.stat(path, follow_symlinks=False)
        except FileNotFoundError as exc:
            raise FileVanishedError(path, "removed before upload") from exc
        except OSError as exc:
            raise FileChangedError(path, f"cannot stat: {exc.strerror}") from exc
        if (st.st_size, st.st_mtime_ns) != (local.size, local.mtime_ns):
            raise FileChangedError(path, "changed since it was scanned; retried once it "
                                   "settles")

    async def _upload(self, job: Job, mode: str) -> None:
        action, local = job.action, job.local
        assert local is not None and action.sha256 is not None
        wanted, annotation_error = await self.item.load_annotations(job)
        filename = remote_filename(self.target.remote_dir, local.path)
        # a new item gets its metadata with the upload; an overwrite sends none (it would
        # replace every key the item has) and patches the fingerprint in after, as a merge
        metadata = {"user": self.item.desired_user(job, wanted)} if mode == "skip" else None
        # bytes the planner carried are those it hashed, read while the file kept the scanned
        # stat: they need no check; a file read now must still be as the scan saw it
        reread = job.content is None
        if reread:
            self._check_unchanged(local)
        result = await self._send(job, filename, mode, metadata)
        if reread:
            self._check_unchanged(local)
        sent = result.size
        current: dict[str, Any] | None = None if mode == "skip" else {}
        if result.op is UploadOp.CREATED and \
                read_fingerprint(result.item).get("sha256") != action.sha256:
            current = {}  # the platform dropped the metadata part: the fingerprint is patched
        if result.op is UploadOp.EXISTING and \
                read_fingerprint(result.item).get("sha256") != action.sha256:
            assert self.gate is not None
            job = self.gate.admit_overwrite(replace(job, action=replace(
                action, kind=ActionKind.OVERWRITE, item_id=result.item["id"])), planned=False)
            result = await self._send(job, filename, "overwrite", None)
            if reread:
                self._check_unchanged(local)
            sent += result.size
            current = {}
        item_id = result.item["id"]
        owned = () if result.op is UploadOp.CREATED else self.item.known_owned(job, item_id)
        self.tally.bytes_sent += sent
        await self.item.finish(job, Landed(item_id, wanted, annotation_error, owned, current))

    async def _send(self, job: Job, filename: str, mode: str,
                    metadata: dict[str, Any] | None) -> UploadResult:
        """One upload; an item the platform stored truncated loses its fingerprint at once, so
        that no later run (even without state) takes it as this content."""
        assert job.local is not None
        try:
            local = CheckedFile(self._path(job.local), job.local.size, job.content)
            return await self.client.upload(self.target.dataset_id, local, filename,
                                            mode="skip" if mode == "skip" else "overwrite",
                                            metadata=metadata)
        except TruncatedUploadError as exc:
            try:
                await self.client.patch_item(exc.item_id,
                                             {"metadata": {"user": {FINGERPRINT_KEY: None}}})
            except DlsyncError as failure:
                if is_fatal(failure):
                    raise
                _log.warning("could not clear the fingerprint of a truncated item; a run "
                             "without state will compare its size first", item=exc.item_id,
                             error=logs.scrub(str(failure)))
            raise

    async def _adopt(self, job: Job) -> None:
        local = job.local
        assert local is not None and job.action.item_id is not None
        wanted, annotation_error = await self.item.load_annotations(job)
        item_id = job.action.item_id
        owned = self.item.known_owned(job, item_id)
        current = self.item.stale_metadata(job, wanted)
        await self.item.finish(job, Landed(item_id, wanted, annotation_error, owned, current))

    async def _move(self, job: Job) -> None:
        action = job.action
        assert action.item_id is not None and action.source is not None
        filename = remote_filename(self.target.remote_dir, action.path)
        await self.client.move_item(action.item_id, filename)
        await self.record_moved(job)

    async def record_moved(self, job: Job) -> None:
        """Record a move the remote confirmed: the old path is forgotten, the new one synced.

        When the moved file's annotation file changed too, its annotations are diffed now.
        """
        action, local, state = job.action, job.local, job.state
        assert local is not None and state is not None and action.source is not None
        await self.writer.send(DeleteFile(self.target.pair, action.source))
        _log.info("moved", path=action.path, source=action.source, item=action.item_id)
        if job.annotations_changed:
            await self._adopt(job)
            return
        record = replace(state, path=local.path, size=local.size, mtime_ns=local.mtime_ns,
                         inode=local.inode, status=FileStatus.SYNCED, attempts=0,
                         last_error=None)
        await self.writer.send(UpsertFile(self.target.pair, record))
        self.tally.done(ActionKind.MOVE)

    async def _delete(self, job: Job) -> None:
        action = job.action
        assert action.item_id is not None
        try:
            await self.client.delete_item(action.item_id)
        except NotFoundError:
            pass  # already gone: the goal is reached
        await self.writer.send(DeleteFile(self.target.pair, action.path))
        self.tally.done(ActionKind.DELETE)
        _log.info("deleted remote item", path=action.path, item=action.item_id,
                  reason=action.reason)

    async def back_up(self, jobs: Sequence[Job], folder: str) -> None:
        """Item deletes the gate released, made recoverable: each item moves into ``folder``
        under its original path (one bulk move per source folder), keeping its id and
        annotations; state forgets the path."""
        by_dir: dict[str, list[Job]] = {}
        for job in jobs:
            self._check_admitted(job)
            parent = posixpath.dirname(remote_filename(self.target.remote_dir, job.action.path))
            by_dir.setdefault(parent, []).append(job)
        for parent, group in sorted(by_dir.items()):
            target = folder.rstrip("/") + (parent if parent != "/" else "")
            ids = [job.action.item_id for job in group if job.action.item_id is not None]
            try:
                await self.client.move_items(self.target.dataset_id, ids, target)
            except DlsyncError as exc:
                if is_fatal(exc):
                    raise
                for job in group:
                    self.tally.failed(ActionKind.DELETE, job.action.path, logs.scrub(str(exc)))
                _log.warning("could not move deleted items to the backup folder; kept in place",
                             folder=target, count=len(group), error=logs.scrub(str(exc)))
                continue
            for job in group:
                await self.writer.send(DeleteFile(self.target.pair, job.action.path))
                self.tally.done(ActionKind.DELETE)
                self.progressed(job)
            _log.info("moved deleted items to the backup folder", folder=target,
                      count=len(group))

    async def _record_failure(self, job: Job, error: str, status: FileStatus) -> None:
        action, local, state = job.action, job.local, job.state
        attempts = (state.attempts if state else 0) + 1
        if state is not None and (local is None or status is FileStatus.CONFLICT):
            await self.writer.send(MarkFile(self.target.pair, action.path, status, attempts,
                                            error))
            return
        if local is None:
            return
        record = StateRecord(
            path=local.path, size=local.size, mtime_ns=local.mtime_ns, inode=local.inode,
            sha256=action.sha256, item_id=state.item_id if state else action.item_id,
            annotations_hash=None, status=status if status is not FileStatus.PENDING
            else FileStatus.FAILED, attempts=attempts, last_error=error,
            annotation_size=local.annotation_size,
            annotation_mtime_ns=local.annotation_mtime_ns)
        await self.writer.send(UpsertFile(self.target.pair, record))
