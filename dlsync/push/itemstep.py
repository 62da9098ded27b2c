"""The item step after the content is in place: annotations as a diff, metadata, the record.

Net annotation removals are not run here: they go to the destruction gate (``removal_job``) and
come back, if released, as ``DELETE_ANNOTATIONS`` jobs at the end of the cycle
(``remove_annotations``). A gone annotation file's set stays while deletes are off.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from dlsync import logs
from dlsync.constants import FINGERPRINT_KEY, INLINE_ANNOTATION_BYTES
from dlsync.errors import AnnotationFileError, DlsyncError, is_fatal
from dlsync.local.annotations import AnnotationSet, load_annotation_file
from dlsync.model import ActionKind, FileStatus, StateRecord
from dlsync.push.annotate import (
    AnnotationOutcome,
    AnnotationWork,
    Owned,
    delete_owned,
    sync_annotations,
)
from dlsync.push.job import Job, Sinks, Target, keeps_gone_set, removal_job
from dlsync.push.labels import LabelKeeper, labels_to_post
from dlsync.push.tasks import TASKED, TaskKeeper
from dlsync.remote.client import DataloopClient
from dlsync.remote.fingerprint import fingerprint_metadata
from dlsync.state.ops import AddAnnotations, RemoveAnnotations, UpsertFile

if TYPE_CHECKING:
    from dlsync.destruction import DestructionGate

_log = logs.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Landed:
    """An item whose content is in place, and what its annotation step starts from."""

    item_id: str
    wanted: AnnotationSet | None
    error: AnnotationFileError | None = None
    owned: Owned | None = None                  # None: unknown, the item is listed first
    current_user: dict[str, Any] | None = None  # the item's user metadata when it may differ


@dataclass(frozen=True, slots=True)
class Recorded:
    """How the item goes into state: its set hash, or the error that failed its annotations."""

    set_hash: str | None
    error: str | None = None


class ItemStep:
    """Annotations, metadata and the state record of items whose content is in place."""

    def __init__(self, client: DataloopClient, target: Target, sinks: Sinks,
                 owned: Callable[[str], Owned]) -> None:
        self.client = client
        self.target = target
        self.sinks = sinks
        self._owned = owned
        self.gate: DestructionGate | None = None
        self.labels: LabelKeeper | None = None      # labels ensured before posts (or off)
        self.tasks: TaskKeeper | None = None        # the pair's task, items queued for it

    async def load_annotations(self, job: Job
                                ) -> tuple[AnnotationSet | None, AnnotationFileError | None]:
        if job.annotations is not None:
            return job.annotations.wanted, job.annotations.error
        local = job.local
        assert local is not None
        if local.annotation_path is None:
            return None, None
        try:
            if self.target.labels is not None:
                return await anyio.to_thread.run_sync(self.target.labels.read, local), None
            if local.annotation_size <= INLINE_ANNOTATION_BYTES:
                # a small file parses faster than a hand-off to a worker thread
                return load_annotation_file(local.annotation_path), None
            return await anyio.to_thread.run_sync(load_annotation_file,
                                                  local.annotation_path), None
        except AnnotationFileError as exc:
            return None, exc

    def known_owned(self, job: Job, item_id: str) -> tuple[tuple[str, str], ...] | None:
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

    @staticmethod
    def desired_user(job: Job, wanted: AnnotationSet | None,
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

    @staticmethod
    def stale_metadata(job: Job, wanted: AnnotationSet | None) -> dict[str, Any] | None:
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

    async def finish(self, job: Job, landed: Landed) -> None:
        """Annotations and metadata after the content is in place; then record the item."""
        item_id, wanted, owned = landed.item_id, landed.wanted, landed.owned
        annotation_error, current_user = landed.error, landed.current_user
        local, action = job.local, job.action
        assert local is not None and action.sha256 is not None
        outcome: AnnotationOutcome | None = None
        if annotation_error is None and (wanted is not None or job.annotations_changed
                                         or owned is None or owned):
            if self.labels is not None:
                await self.labels.ensure(labels_to_post(wanted, owned))
            try:
                outcome = await sync_annotations(self.client, self.target.dataset_id, item_id,
                                                 wanted, owned)
            except DlsyncError as exc:
                if is_fatal(exc):
                    raise
                await self._annotations_failed(job, item_id, logs.scrub(str(exc)))
                return
            self.sinks.tally.annotations_posted += outcome.posted
            self.sinks.tally.annotations_deleted += outcome.deleted
        set_hash = await self._settle_removals(job, item_id, wanted, outcome)
        if annotation_error is None and current_user is not None:
            desired = self.desired_user(job, wanted, pending_removals=bool(
                outcome and outcome.removals and not keeps_gone_set(job)))
            if current_user != desired:
                await self.client.patch_item(item_id, {"metadata": {"user": desired}})
        await self.record_item(job, item_id, outcome, owned, Recorded(
            None if annotation_error else set_hash,
            str(annotation_error) if annotation_error else None))
        if annotation_error is not None:
            self.sinks.tally.failed(ActionKind.ANNOTATE, action.path, str(annotation_error))
            _log.warning("annotation file unusable; the item is uploaded, its annotations are "
                         "retried next run", path=action.path, error=str(annotation_error))
        elif outcome is not None and outcome.conflicts:
            self.sinks.tally.conflict(ActionKind.ANNOTATE, action.path,
                                f"{len(outcome.conflicts)} annotation(s) dlsync posted were "
                                "edited on the platform; kept there, not deleted")
        else:
            self.sinks.tally.done(action.kind)

    async def _settle_removals(self, job: Job, item_id: str, wanted: AnnotationSet | None,
                               outcome: AnnotationOutcome | None) -> str | None:
        """Hand net removals to the destruction gate (or keep a gone file's set); return the
        set hash to record now: the file's, or None while removals wait for the gate."""
        set_hash = wanted.set_hash if wanted else None
        if outcome is None or not outcome.removals:
            return set_hash
        if keeps_gone_set(job):
            self.sinks.tally.annotations_kept += 1
            return job.state.annotations_hash if job.state else None
        assert self.gate is not None
        work = job.annotations or AnnotationWork(wanted)
        self.gate.defer(removal_job(job, item_id, outcome.removals, work))
        file_gone = job.local is not None and job.local.annotation_path is None
        # until the gate removes it, a gone file's set stays what state last synced; a file
        # with net removals pending records no set hash, so the next run diffs it again
        return (job.state.annotations_hash if job.state else None) if file_gone else None

    async def remove_annotations(self, job: Job) -> None:
        """A net removal the gate released: delete dlsync's annotations (unless edited on the
        platform since), then record the item with the file's set hash."""
        action, local = job.action, job.local
        assert action.item_id is not None and local is not None and action.sha256 is not None
        item_id = action.item_id
        deleted, conflicts, kept = await delete_owned(
            self.client, self.target.dataset_id, item_id, job.removal, None)
        self.sinks.tally.annotations_deleted += deleted
        wanted = job.annotations.wanted if job.annotations else None
        set_hash = wanted.set_hash if wanted else None
        patch = {FINGERPRINT_KEY: fingerprint_metadata(action.sha256, local.size, set_hash)}
        await self.client.patch_item(item_id, {"metadata": {"user": patch}})
        owned = (job.annotations.owned if job.annotations else None) or job.removal
        gone = {annotation_id for _, annotation_id in job.removal} - {i for _, i in kept}
        outcome = AnnotationOutcome(tuple(p for p in owned if p[1] not in gone), 0, deleted,
                                    conflicts)
        await self.record_item(job, item_id, outcome, owned, Recorded(set_hash))
        _log.info("deleted annotations", path=action.path, item=item_id, count=deleted,
                  reason=action.reason)
        if conflicts:
            self.sinks.tally.conflict(ActionKind.DELETE_ANNOTATIONS, action.path,
                                f"{len(conflicts)} annotation(s) dlsync posted were edited on "
                                "the platform; kept there, not deleted")
        else:
            self.sinks.tally.done(ActionKind.DELETE_ANNOTATIONS)

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
        await self.record_item(job, item_id, None, None, Recorded(None, error))
        self.sinks.tally.failed(ActionKind.ANNOTATE, action.path,
                                f"annotations not synced: {error}")
        _log.warning("annotations failed; the item is in place, its annotations are retried "
                     "next run", path=action.path, error=error)

    async def record_item(self, job: Job, item_id: str, outcome: AnnotationOutcome | None,
                          owned_before: Sequence[tuple[str, str]] | None,
                          recorded: Recorded) -> None:
        """Record the item synced, or FAILED with ``error`` when its annotations are not."""
        set_hash, error = recorded.set_hash, recorded.error
        local, action = job.local, job.action
        assert local is not None
        status = FileStatus.FAILED if error else FileStatus.SYNCED
        if self.tasks is not None and action.kind in TASKED:
            await self.tasks.queue([item_id])   # queued before the record: never one without
        record = StateRecord(
            path=local.path, size=local.size, mtime_ns=local.mtime_ns, inode=local.inode,
            sha256=action.sha256, item_id=item_id, annotations_hash=set_hash, status=status,
            attempts=(job.state.attempts + 1 if job.state and error else 0),
            last_error=error,
            annotation_size=local.annotation_size,
            annotation_mtime_ns=local.annotation_mtime_ns)
        await self.sinks.writer.send(UpsertFile(self.target.pair, record))
        if outcome is not None:
            before = {annotation_id for _, annotation_id in owned_before or ()}
            after = {annotation_id for _, annotation_id in outcome.owned}
            gone = tuple(sorted(before - after))
            if gone:
                await self.sinks.writer.send(RemoveAnnotations(self.target.pair, item_id, gone))
            added = tuple(pair for pair in outcome.owned if pair[1] not in before)
            if added:
                await self.sinks.writer.send(AddAnnotations(self.target.pair, item_id, added))

