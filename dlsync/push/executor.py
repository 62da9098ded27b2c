"""Workers that carry out planned actions against the remote and report results to state.

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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import ObjectReceiveStream

from dlsync import logs
from dlsync.constants import FINGERPRINT_KEY, INLINE_ANNOTATION_BYTES
from dlsync.errors import (
    AnnotationFileError,
    DlsyncError,
    FileChangedError,
    FileVanishedError,
    NotFoundError,
    UngatedError,
    is_fatal,
)
from dlsync.local.annotations import AnnotationSet, load_annotation_file
from dlsync.model import (
    DESTRUCTIVE_KINDS,
    Action,
    ActionKind,
    FileStatus,
    LocalEntry,
    RemoteItem,
    StateRecord,
    remote_filename,
)
from dlsync.push.annotate import (
    AnnotationOutcome,
    AnnotationWork,
    Owned,
    delete_owned,
    sync_annotations,
)
from dlsync.push.tally import Tally
from dlsync.remote.client import DataloopClient
from dlsync.remote.fingerprint import fingerprint_metadata, read_fingerprint
from dlsync.remote.types import UploadOp
from dlsync.state.ops import AddAnnotations, DeleteFile, MarkFile, RemoveAnnotations, UpsertFile
from dlsync.state.writer import StateWriter

if TYPE_CHECKING:
    from dlsync.destruction import DestructionGate

_log = logs.get_logger(__name__)

OwnedLookup = Callable[[str], tuple[tuple[str, str], ...]]


@dataclass(frozen=True, slots=True)
class Job:
    """One action with what the planner knew of its path on each side."""

    action: Action
    local: LocalEntry | None = None
    state: StateRecord | None = None
    remote: RemoteItem | None = None
    annotations_changed: bool = False
    annotations: AnnotationWork | None = None   # read and diffed by the planner
    removal: Owned = ()                         # DELETE_ANNOTATIONS: what to delete
    ticket: object | None = None                # set by the destruction gate that admitted it

    @property
    def removes_whole_set(self) -> bool:
        """True for the removal of a gone annotation file's whole set (counts as an item)."""
        return self.annotations is not None and self.annotations.file_gone


@dataclass(frozen=True, slots=True)
class Target:
    """Where a run writes: the sync root, the dataset and folder, the pair in state."""

    root: Path
    dataset_id: str
    remote_dir: str
    pair: int


class Executor:
    """Runs jobs: uploads, moves, annotation diffs, deletes; records every outcome."""

    def __init__(self, client: DataloopClient, target: Target, writer: StateWriter,
                 tally: Tally, owned: OwnedLookup,
                 on_progress: Callable[[Job], None] | None = None) -> None:
        self.client = client
        self.target = target
        self.writer = writer
        self.tally = tally
        self._owned = owned
        self._on_progress = on_progress or (lambda job: None)
        self.gate: DestructionGate | None = None
        """Admits destructive jobs; without one, the executor refuses every such job."""

    async def serve(self, jobs: ObjectReceiveStream[Job], workers: int) -> None:
        """Take jobs from ``jobs`` with ``workers`` concurrent tasks until the stream ends."""
        async with jobs, anyio.create_task_group() as tg:
            for _ in range(max(1, workers)):
                tg.start_soon(self._worker, jobs)

    async def _worker(self, jobs: ObjectReceiveStream[Job]) -> None:
        async for job in jobs:
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
        self._on_progress(job)

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
            await self._remove_annotations(job)
        elif kind is ActionKind.CONFLICT:
            self.tally.conflict(kind, job.action.path, job.action.reason)
            await self._record_failure(job, job.action.reason, FileStatus.CONFLICT)
        else:
            self.tally.failed(kind, job.action.path, job.action.reason)

    # -- uploads -----------------------------------------------------------------------------

    def _path(self, local: LocalEntry) -> Path:
        return self.target.root / local.disk_path

    def _check_unchanged(self, local: LocalEntry) -> None:
        path = self._path(local)
        try:
            st = os.stat(path, follow_symlinks=False)
        except FileNotFoundError as exc:
            raise FileVanishedError(str(path), "removed before upload") from exc
        except OSError as exc:
            raise FileChangedError(str(path), f"cannot stat: {exc.strerror}") from exc
        if (st.st_size, st.st_mtime_ns) != (local.size, local.mtime_ns):
            raise FileChangedError(str(path), "changed since it was scanned; retried once it "
                                   "settles")

    async def _upload(self, job: Job, mode: str) -> None:
        action, local = job.action, job.local
        assert local is not None and action.sha256 is not None
        wanted, annotation_error = await self._load_annotations(job)
        filename = remote_filename(self.target.remote_dir, local.path)
        # a new item gets its metadata with the upload; an overwrite sends none (it would
        # replace every key the item has) and patches the fingerprint in after, as a merge
        metadata = {"user": self._desired_user(job, wanted)} if mode == "skip" else None
        self._check_unchanged(local)
        result = await self.client.upload(self.target.dataset_id, self._path(local), filename,
                                          mode="skip" if mode == "skip" else "overwrite",
                                          metadata=metadata)
        self._check_unchanged(local)
        sent = result.size
        current: dict[str, Any] | None = None if mode == "skip" else {}
        if result.op is UploadOp.EXISTING and \
                read_fingerprint(result.item).get("sha256") != action.sha256:
            assert self.gate is not None
            job = self.gate.admit_overwrite(replace(job, action=replace(
                action, kind=ActionKind.OVERWRITE, item_id=result.item["id"])), planned=False)
            result = await self.client.upload(self.target.dataset_id, self._path(local),
                                              filename, mode="overwrite", metadata=None)
            self._check_unchanged(local)
            sent += result.size
            current = {}
        item_id = result.item["id"]
        owned = () if result.op is UploadOp.CREATED else self._known_owned(job, item_id)
        self.tally.bytes_sent += sent
        await self._finish_item(job, item_id, wanted, annotation_error, owned,
                                current_user=current, sent=sent)

    @staticmethod
    def _desired_user(job: Job, wanted: AnnotationSet | None,
                      pending_removals: bool = False) -> dict[str, Any]:
        """The item's user metadata as the local side wants it, with dlsync's fingerprint.

        No key is ever removed. An annotation file that is gone keeps the platform's metadata
        and last synced set hash until the gate removes its set (never, while deletes are off).
        While net removals wait for the gate, the set hash is left out, so a run without state
        does not take the set as synced.
        """
        action, local = job.action, job.local
        assert local is not None and action.sha256 is not None
        work = job.annotations
        if work is not None and work.file_gone:
            user = dict(job.remote.user_metadata) if job.remote else {}
            set_hash = job.state.annotations_hash if job.state else None
        else:
            # keys the file no longer has stay: dlsync never removes a user-metadata key (an
            # overwrite replaces the item's metadata, so the platform's keys go along under it)
            user = dict(job.remote.user_metadata) if job.remote else {}
            user.update(wanted.user_metadata if wanted else {})
            set_hash = wanted.set_hash if wanted and not pending_removals else None
        user[FINGERPRINT_KEY] = fingerprint_metadata(action.sha256, local.size, set_hash)
        return user

    async def _load_annotations(self, job: Job
                                ) -> tuple[AnnotationSet | None, AnnotationFileError | None]:
        if job.annotations is not None:
            return job.annotations.wanted, job.annotations.error
        local = job.local
        assert local is not None
        if local.annotation_path is None:
            return None, None
        try:
            if local.annotation_size <= INLINE_ANNOTATION_BYTES:
                # a small file parses faster than a hand-off to a worker thread
                return load_annotation_file(local.annotation_path), None
            return await anyio.to_thread.run_sync(load_annotation_file,
                                                  local.annotation_path), None
        except AnnotationFileError as exc:
            return None, exc

    def _known_owned(self, job: Job, item_id: str) -> tuple[tuple[str, str], ...] | None:
        """What state says dlsync created on the item; ``None`` when it cannot know."""
        work = job.annotations
        if work is not None and work.owned is not None and job.action.item_id == item_id:
            return work.owned
        owned = self._owned(item_id)
        if owned:
            return owned
        has_history = job.state is not None and (job.state.annotations_hash is not None
                                                  or job.state.status is FileStatus.FAILED)
        remote_has = job.remote is not None and job.remote.annotations_hash is not None
        return None if (has_history or remote_has) else ()

    # -- adopt, annotate, move, delete -------------------------------------------------------

    async def _adopt(self, job: Job) -> None:
        local = job.local
        assert local is not None and job.action.item_id is not None
        wanted, annotation_error = await self._load_annotations(job)
        item_id = job.action.item_id
        owned = self._known_owned(job, item_id)
        current = self._stale_metadata(job, wanted)
        await self._finish_item(job, item_id, wanted, annotation_error, owned,
                                current_user=current, sent=0)

    @staticmethod
    def _stale_metadata(job: Job, wanted: AnnotationSet | None) -> dict[str, Any] | None:
        """The item's user metadata when it may need patching, else ``None``.

        The remote annotation-set hash covers the file's ``metadata.user``, so a remote item
        whose set hash (and content fingerprint) equal the local ones needs no patch.
        """
        remote = job.remote
        if remote is None:
            return {}
        set_hash = wanted.set_hash if wanted else None
        if job.annotations is not None and job.annotations.file_gone:
            set_hash = job.state.annotations_hash if job.state else None
        fingerprint = remote.fingerprint
        if remote.annotations_hash == set_hash and fingerprint is not None and \
                fingerprint.sha256 == job.action.sha256:
            return None
        return remote.user_metadata or {}

    async def _finish_item(self, job: Job, item_id: str, wanted: AnnotationSet | None,
                           annotation_error: AnnotationFileError | None,
                           owned: Sequence[tuple[str, str]] | None,
                           current_user: dict[str, Any] | None, sent: int) -> None:
        """Annotations and metadata after the content is in place; then record the item."""
        local, action = job.local, job.action
        assert local is not None and action.sha256 is not None
        outcome: AnnotationOutcome | None = None
        if annotation_error is None and (wanted is not None or job.annotations_changed
                                         or owned is None or owned):
            try:
                outcome = await sync_annotations(self.client, self.target.dataset_id, item_id,
                                                 wanted, owned)
            except DlsyncError as exc:
                if is_fatal(exc):
                    raise
                await self._annotations_failed(job, item_id, logs.scrub(str(exc)))
                return
            self.tally.annotations_posted += outcome.posted
            self.tally.annotations_deleted += outcome.deleted
        set_hash = await self._settle_removals(job, item_id, wanted, outcome)
        if annotation_error is None:
            desired = self._desired_user(job, wanted, pending_removals=bool(
                outcome and outcome.removals and not _keeps(job)))
            if current_user is not None and current_user != desired:
                await self.client.patch_item(item_id, {"metadata": {"user": desired}})
        await self._record_item(job, item_id, outcome, owned,
                                None if annotation_error else set_hash,
                                str(annotation_error) if annotation_error else None)
        if annotation_error is not None:
            self.tally.failed(ActionKind.ANNOTATE, action.path, str(annotation_error))
            _log.warning("annotation file unusable; the item is uploaded, its annotations are "
                         "retried next run", path=action.path, error=str(annotation_error))
        elif outcome is not None and outcome.conflicts:
            self.tally.conflict(ActionKind.ANNOTATE, action.path,
                                f"{len(outcome.conflicts)} annotation(s) dlsync posted were "
                                "edited on the platform; kept there, not deleted")
        else:
            self.tally.done(action.kind)

    async def _settle_removals(self, job: Job, item_id: str, wanted: AnnotationSet | None,
                               outcome: AnnotationOutcome | None) -> str | None:
        """Hand net removals to the destruction gate (or keep a gone file's set); return the
        set hash to record now: the file's, or None while removals wait for the gate."""
        set_hash = wanted.set_hash if wanted else None
        if outcome is None or not outcome.removals:
            return set_hash
        if _keeps(job):
            self.tally.annotations_kept += 1
            return job.state.annotations_hash if job.state else None
        assert self.gate is not None
        work = job.annotations or AnnotationWork(wanted)
        file_gone = job.local is not None and job.local.annotation_path is None
        removal = Action(ActionKind.DELETE_ANNOTATIONS, job.action.path,
                         _removal_reason(len(outcome.removals), file_gone),
                         item_id=item_id, sha256=job.action.sha256,
                         removed=len(outcome.removals))
        self.gate.defer(Job(removal, local=job.local, state=job.state, remote=job.remote,
                            annotations=replace(work, file_gone=file_gone),
                            removal=outcome.removals))
        # until the gate removes it, a gone file's set stays what state last synced; a file
        # with net removals pending records no set hash, so the next run diffs it again
        return (job.state.annotations_hash if job.state else None) if file_gone else None

    async def _remove_annotations(self, job: Job) -> None:
        """A net removal the gate released: delete dlsync's annotations (unless edited on the
        platform since), then record the item with the file's set hash."""
        action, local = job.action, job.local
        assert action.item_id is not None and local is not None and action.sha256 is not None
        item_id = action.item_id
        deleted, conflicts, kept = await delete_owned(
            self.client, self.target.dataset_id, item_id, job.removal, None)
        self.tally.annotations_deleted += deleted
        wanted = job.annotations.wanted if job.annotations else None
        set_hash = wanted.set_hash if wanted else None
        patch = {FINGERPRINT_KEY: fingerprint_metadata(action.sha256, local.size, set_hash)}
        await self.client.patch_item(item_id, {"metadata": {"user": patch}})
        owned = (job.annotations.owned if job.annotations else None) or job.removal
        gone = {annotation_id for _, annotation_id in job.removal} - {i for _, i in kept}
        outcome = AnnotationOutcome(tuple(p for p in owned if p[1] not in gone), 0, deleted,
                                    conflicts)
        await self._record_item(job, item_id, outcome, owned, set_hash, None)
        _log.info("deleted annotations", path=action.path, item=item_id, count=deleted,
                  reason=action.reason)
        if conflicts:
            self.tally.conflict(ActionKind.DELETE_ANNOTATIONS, action.path,
                                f"{len(conflicts)} annotation(s) dlsync posted were edited on "
                                "the platform; kept there, not deleted")
        else:
            self.tally.done(ActionKind.DELETE_ANNOTATIONS)

    async def _annotations_failed(self, job: Job, item_id: str, error: str) -> None:
        """The content is in place but the annotations are not: say so on both sides.

        The item's annotation-set hash is cleared (best effort) so that a run without state
        does not take the set as synced; state records the item FAILED, so the next run diffs
        the annotations again after listing what is already there.
        """
        action, local = job.action, job.local
        assert local is not None and action.sha256 is not None
        unmark = {FINGERPRINT_KEY: fingerprint_metadata(action.sha256, local.size, None)}
        try:
            await self.client.patch_item(item_id, {"metadata": {"user": unmark}})
        except DlsyncError as exc:
            if is_fatal(exc):
                raise
            _log.warning("could not clear the annotation hash of the item; a run without "
                         "state will still list its annotations before trusting it",
                         path=action.path, item=item_id, error=logs.scrub(str(exc)))
        await self._record_item(job, item_id, None, None, None, error)
        self.tally.failed(ActionKind.ANNOTATE, action.path, f"annotations not synced: {error}")
        _log.warning("annotations failed; the item is in place, its annotations are retried "
                     "next run", path=action.path, error=error)

    async def _record_item(self, job: Job, item_id: str, outcome: AnnotationOutcome | None,
                           owned_before: Sequence[tuple[str, str]] | None,
                           set_hash: str | None, error: str | None) -> None:
        """Record the item synced, or FAILED with ``error`` when its annotations are not."""
        local, action = job.local, job.action
        assert local is not None
        status = FileStatus.FAILED if error else FileStatus.SYNCED
        record = StateRecord(
            path=local.path, size=local.size, mtime_ns=local.mtime_ns, inode=local.inode,
            sha256=action.sha256, item_id=item_id, annotations_hash=set_hash, status=status,
            attempts=(job.state.attempts + 1 if job.state and error else 0),
            last_error=error,
            annotation_size=local.annotation_size,
            annotation_mtime_ns=local.annotation_mtime_ns)
        await self.writer.send(UpsertFile(self.target.pair, record))
        if outcome is not None:
            before = {annotation_id for _, annotation_id in owned_before or ()}
            after = {annotation_id for _, annotation_id in outcome.owned}
            gone = tuple(sorted(before - after))
            if gone:
                await self.writer.send(RemoveAnnotations(self.target.pair, item_id, gone))
            added = tuple(pair for pair in outcome.owned if pair[1] not in before)
            if added:
                await self.writer.send(AddAnnotations(self.target.pair, item_id, added))

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


def preview_removal(job: Job) -> Job | None:
    """The net-removal job a planned ``job`` will hand the gate, when the planner could tell
    (what dlsync owns on the item is in state); for the dry run and its limits."""
    work = job.annotations
    if work is None or work.diff is None or not work.diff.remove or work.keeps_gone_set:
        return None
    count = len(work.diff.remove)
    file_gone = work.file_gone
    action = Action(ActionKind.DELETE_ANNOTATIONS, job.action.path,
                    _removal_reason(count, file_gone), item_id=job.action.item_id,
                    sha256=job.action.sha256, removed=count)
    return Job(action, local=job.local, state=job.state, remote=job.remote, annotations=work,
               removal=work.diff.remove)


def _keeps(job: Job) -> bool:
    """True when ``job``'s annotation file is gone and deletes are off: the set stays."""
    return job.annotations is not None and job.annotations.keeps_gone_set


def _removal_reason(count: int, file_gone: bool) -> str:
    noun = "annotation" if count == 1 else "annotations"
    if file_gone:
        return f"annotation file gone: {count} {noun} dlsync posted"
    return f"{count} {noun} removed from the annotation file"
