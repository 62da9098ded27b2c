"""One pull of one pair: the platform's annotations (and, asked, its items) into the local folder.

For each item the platform lists (all of them on a full pull, those touched since the
watermark otherwise, plus every item state holds in conflict) the pull compares three
annotation sets, base (state), local (the file) and remote (the platform), with
``pullrules.decide_pull``, and writes, records, keeps or reports a conflict. What it writes is
recorded in state as the push side records a sync (annotation file stat, set hash, and every
annotation in the file as dlsync's own, by remote id), so a following ``dlsync mirror`` finds
nothing to send.

The file written is the dtlpy JSON layout, ``{"annotations": [...], "metadata": {"user": ...}}``:
each annotation as the platform lists it (ids, creator, timestamps kept, URL fields dropped),
ordered by id, and the item's ``metadata.user`` without dlsync's fingerprint key. The push
side's canonical form drops the server-owned fields, so the written file hashes to exactly the
platform's set.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anyio

from dlsync import logs
from dlsync.config import PairConfig
from dlsync.constants import FINGERPRINT_KEY, PULL_OVERLAP_S, URL_FIELDS
from dlsync.errors import AnnotationFileError, DlsyncError, is_fatal, primary
from dlsync.local.annotations import AnnotationSet, dump_annotation_file, parse_annotations
from dlsync.local.layout import LayoutKind
from dlsync.model import ConflictPolicy, FileStatus, StateRecord
from dlsync.pairs import check_pair_roots
from dlsync.pull.download import Fetch, download_item
from dlsync.pull.files import (
    FileStat,
    conflict_copy_of,
    conflict_files,
    conflict_name,
    find_annotation_file,
    local_set_hash,
    new_annotation_file,
    stat_of,
    write_atomically,
)
from dlsync.pull.rules import Decision, PullVerdict, SetView, decide_pull
from dlsync.pull.source import RemoteEntry, behind, changed_batches, full_batches, latest_stamp
from dlsync.pull.tally import PullTally
from dlsync.remote.client import DataloopClient
from dlsync.remote.dataset import resolve_dataset
from dlsync.remote.fingerprint import fingerprint_metadata, read_fingerprint
from dlsync.state.ops import (
    AddAnnotations,
    FinishRun,
    MarkFile,
    RemoveAnnotations,
    RunKind,
    RunOutcome,
    SetMeta,
    StartRun,
    UpsertFile,
    new_run_id,
)
from dlsync.state.queries import StateReader
from dlsync.state.store import StateStore
from dlsync.state.writer import StateWriter, running_writer

_log = logs.get_logger(__name__)

EMPTY_SET_HASH = parse_annotations(dump_annotation_file([]), "<empty>").set_hash
"""The set hash of a file with no annotations and no metadata."""


def watermark_key(pair_id: int) -> str:
    """The state meta key holding a pair's pull watermark."""
    return f"pull-watermark/{pair_id}"


@dataclass(frozen=True, slots=True)
class PullOptions:
    """How to run a pull (what to pull is the ``PairConfig``)."""

    items: bool = False          # also download items missing locally
    full: bool = False           # look at every item, not only those changed since last time
    dry_run: bool = False        # decide and report, write nothing
    kind: RunKind = RunKind.PULL


@dataclass(slots=True)
class PullResult:
    """What a pull did: the tally, the dataset, whether it was full, the new watermark."""

    tally: PullTally
    dataset_id: str = ""
    full: bool = True
    watermark: str | None = None

    @property
    def has_problems(self) -> bool:
        """True when an item failed or is in conflict (exit code 1)."""
        return self.tally.failures > 0 or self.tally.conflicts > 0


def view(set_hash: str | None) -> SetView:
    """The rules' view of a set hash (``None``: no annotation file)."""
    return SetView(set_hash, set_hash is None or set_hash == EMPTY_SET_HASH)


@dataclass(frozen=True, slots=True)
class RemoteDocument:
    """The annotation file a pull would write for one item, parsed back as the push reads it."""

    data: bytes
    parsed: AnnotationSet
    owned: tuple[tuple[str, str], ...]     # (canonical hash, annotation id), file order


def remote_document(entry: RemoteEntry) -> RemoteDocument:
    """The file content for ``entry``; ``AnnotationFileError`` names the item when unusable."""
    notes = sorted(entry.annotations, key=lambda a: str(a.get("id")))
    written = [{k: v for k, v in note.items() if k not in URL_FIELDS} for note in notes]
    user = dict((entry.item.get("metadata") or {}).get("user") or {})
    user.pop(FINGERPRINT_KEY, None)
    data = dump_annotation_file(written, {"user": user} if user else {})
    parsed = parse_annotations(data, f"platform annotations of {entry.path} "
                                     f"(item {entry.item['id']})")
    owned = tuple((one.hash, str(note.get("id")))
                  for one, note in zip(parsed.annotations, notes, strict=True))
    return RemoteDocument(data, parsed, owned)


class Puller:
    """Pulls one pair against one open client and state database."""

    def __init__(self, pair: PairConfig, client: DataloopClient, store: StateStore,
                 pair_id: int, options: PullOptions, *, fetch: Fetch | None = None,
                 tally: PullTally | None = None) -> None:
        self.pair = pair
        self.client = client
        self.store = store
        self.pair_id = pair_id
        self.options = options
        self.tally = tally or PullTally()
        self._fetch = fetch or (lambda item_id, offset: client.download(item_id, offset=offset))
        self._writer: StateWriter | None = None
        self._reader: StateReader | None = None

    @property
    def root(self) -> Path:
        return self.pair.source

    async def run(self) -> PullResult:
        """Pull once: list what changed, settle every item, record the new watermark.

        A root with tracked files that looks unmounted stops the pull before anything is
        written (``EmptyRootError``, exit 4): files never go into an empty mount point."""
        await anyio.to_thread.run_sync(check_pair_roots, self.pair, self.store, self.pair_id)
        dataset_id = await resolve_dataset(self.client, self.pair)
        result = PullResult(self.tally, dataset_id)
        with StateReader(self.store.path) as reader:
            self._reader = reader
            since = None if self.options.full else self._watermark(reader)
            result.full = since is None
            result.watermark = await latest_stamp(self.client, dataset_id)
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
        async with running_writer(self.store) as writer:
            self._writer = writer
            await self._send_unless_dry(StartRun(self.pair_id, run_id, self.options.kind,
                                                 time.time()))
            await self._all_batches(dataset_id, since, self._reader)
            if not self.tally.failures and result.watermark is not None:
                await self._send_unless_dry(SetMeta(watermark_key(self.pair_id), {
                    "stamp": result.watermark, "target": self._target()}))
            await self._send_unless_dry(self._finish(run_id, None))

    def _record_end(self, run_id: str, exc: BaseException) -> None:
        if self.options.dry_run:
            return
        try:
            self.store.write([self._finish(run_id, exc)])
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
        if since is None:
            batches = full_batches(self.client, dataset_id, self.pair.remote_dir)
        else:
            also = [r.item_id for r in reader.in_conflict(self.pair_id) if r.item_id]
            batches = changed_batches(self.client, dataset_id, self.pair.remote_dir,
                                      behind(since, PULL_OVERLAP_S), also=also)
        limiter = anyio.CapacityLimiter(max(1, self.pair.workers))
        async for batch in batches:
            async with anyio.create_task_group() as tg:
                for entry in batch:
                    tg.start_soon(self._guarded, entry, limiter)

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

    async def _send_unless_dry(self, op: Any) -> None:
        if not self.options.dry_run and self._writer is not None:
            await self._writer.send(op)

    # -- one item ----------------------------------------------------------------------------

    async def _guarded(self, entry: RemoteEntry, limiter: anyio.CapacityLimiter) -> None:
        async with limiter:
            try:
                await self._one(entry)
            except (DlsyncError, AnnotationFileError) as exc:
                if is_fatal(exc):
                    raise
                reason = logs.scrub(str(exc))
                self.tally.failed(entry.path, reason)
                _log.warning("pull of an item failed; retried next pull", path=entry.path,
                             error=reason)

    async def _one(self, entry: RemoteEntry) -> None:
        assert self._reader is not None
        state = self._reader.file(self.pair_id, entry.path)
        media = self.root / entry.path
        if state is None and self.options.items and not media.exists():
            state = await self._download(entry, media)
            if state is None:
                return
        elif state is None:
            self.tally.count("not-synced" if media.exists() else "not-local")
            return
        elif state.item_id != entry.item["id"] or state.status not in (FileStatus.SYNCED,
                                                                        FileStatus.CONFLICT):
            self.tally.count("not-synced")
            return
        if self.pair.annotations.kind is LayoutKind.NONE:
            return
        await self._annotations(entry, state)

    async def _download(self, entry: RemoteEntry, media: Path) -> StateRecord | None:
        size = int((entry.item.get("metadata") or {}).get("system", {}).get("size") or 0)
        mark = read_fingerprint(entry.item)
        sha = mark.get("sha256") if isinstance(mark.get("sha256"), str) else None
        if self.options.dry_run:
            self.tally.count("would-download")
            return None
        done = await download_item(self._fetch, entry.item["id"], media, size, sha)
        self.tally.bytes_received += done.fetched
        self.tally.downloaded += 1
        record = StateRecord(path=entry.path, size=size, mtime_ns=done.mtime_ns,
                             inode=done.inode, sha256=done.fingerprint.sha256,
                             item_id=entry.item["id"], annotations_hash=None,
                             status=FileStatus.SYNCED)
        await self._send_unless_dry(UpsertFile(self.pair_id, record))
        if sha is None:
            await self._adopt_fingerprint(entry, done.fingerprint.sha256, size)
        return record

    async def _adopt_fingerprint(self, entry: RemoteEntry, sha256: str, size: int) -> None:
        """Give an item dlsync never uploaded its fingerprint, so a push sees it in sync."""
        try:
            document = remote_document(entry)
            set_hash = None if view(document.parsed.set_hash).empty \
                else document.parsed.set_hash
        except AnnotationFileError:
            set_hash = None
        mark = {FINGERPRINT_KEY: fingerprint_metadata(sha256, size, set_hash)}
        await self.client.patch_item(entry.item["id"], {"metadata": {"user": mark}})

    async def _annotations(self, entry: RemoteEntry, state: StateRecord) -> None:
        document = remote_document(entry)
        current = find_annotation_file(self.root, self.pair.annotations, entry.path)
        recorded = FileStat(state.annotation_size, state.annotation_mtime_ns)
        local_hash = local_set_hash(current, recorded, state.annotations_hash)
        decision = decide_pull(view(state.annotations_hash), view(local_hash),
                               view(document.parsed.set_hash), self.pair.conflict)
        if self.options.dry_run:
            self.tally.count(f"would-be-{decision.verdict.value}")
            return
        act = Act(self, entry, state, document, current, local_hash)
        await act.run(decision)


class Act:
    """Carries out one item's pull decision and records it."""

    def __init__(self, puller: Puller, entry: RemoteEntry, state: StateRecord,
                 document: RemoteDocument, current: Path | None,
                 local_hash: str | None) -> None:
        self.puller = puller
        self.entry = entry
        self.state = state
        self.document = document
        self.current = current
        self.local_hash = local_hash

    async def run(self, decision: Decision) -> None:
        """Act on ``decision``; a file in conflict is re-judged by how the user left it."""
        verdict = decision.verdict
        if self.state.status is FileStatus.CONFLICT and verdict is PullVerdict.CONFLICT and \
                self.current is not None and not conflict_files(self.current):
            verdict = PullVerdict.KEEP_LOCAL   # the user removed the conflict copy: local wins
        if verdict is PullVerdict.NOTHING:
            await self._nothing()
        elif verdict is PullVerdict.RECORD:
            await self._record_in_sync()
        elif verdict is PullVerdict.WRITE:
            await self._write()
        elif verdict is PullVerdict.KEEP_LOCAL:
            await self._keep_local()
        else:
            await self._conflict(decision.reason)

    async def _nothing(self) -> None:
        if self.state.status is FileStatus.CONFLICT:
            await self._send(MarkFile(self.puller.pair_id, self.state.path, FileStatus.SYNCED))
            self.puller.tally.count("resolved")
            return
        self.puller.tally.count("unchanged")

    async def _record_in_sync(self) -> None:
        stat = stat_of(self.current) if self.current is not None else FileStat(0, 0)
        state = self.state
        hash_ = None if self.current is None else self.local_hash
        if state.status is FileStatus.SYNCED and state.annotations_hash == hash_ and \
                (state.annotation_size, state.annotation_mtime_ns) == (stat.size,
                                                                        stat.mtime_ns) and \
                sorted(state.annotation_ids) == sorted(self.document.owned):
            self.puller.tally.count("unchanged")
            return
        await self._record(hash_, stat)
        self.puller.tally.count("resolved" if state.status is FileStatus.CONFLICT
                                else "recorded")

    async def _write(self) -> None:
        target = self.current or new_annotation_file(self.puller.root,
                                                     self.puller.pair.annotations,
                                                     self.entry.path)
        assert target is not None
        if self.current is not None:
            self._check_unchanged(self.current)
        stat = await anyio.to_thread.run_sync(write_atomically, target, self.document.data)
        await self._record(self.document.parsed.set_hash, stat)
        self.puller.tally.count("written")
        _log.info("annotations pulled", path=self.entry.path, file=str(target),
                  annotations=len(self.document.owned))

    def _check_unchanged(self, path: Path) -> None:
        """Refuse to replace a file that changed after it was read (retried next pull)."""
        before = FileStat(self.state.annotation_size, self.state.annotation_mtime_ns)
        if stat_of(path) != before and \
                local_set_hash(path, None, None) != self.local_hash:
            raise AnnotationFileError(str(path), "changed while the pull read it; not "
                                      "replaced, retried next pull")

    async def _keep_local(self) -> None:
        """The local file wins: state takes the platform's set as seen, so the push diffs."""
        record = replace(self.state, annotations_hash=self.document.parsed.set_hash,
                         status=FileStatus.SYNCED, attempts=0, last_error=None)
        await self._send(UpsertFile(self.puller.pair_id, record))
        self.puller.tally.count("kept-local")

    async def _conflict(self, reason: str) -> None:
        target = self.current
        assert target is not None   # both sides changed: the local file exists
        copy = conflict_copy_of(target, self.document.parsed.set_hash)
        if copy is None:
            copy = conflict_name(target)
            await anyio.to_thread.run_sync(write_atomically, copy, self.document.data)
        why = (f"annotations {reason}; the local file {target.name} is kept and the platform's "
               f"version is in {copy.name}: merge them into {target.name} (or delete "
               f"{copy.name} to keep the local file), then pull again")
        await self._send(MarkFile(self.puller.pair_id, self.state.path, FileStatus.CONFLICT,
                                  self.state.attempts + 1, why))
        self.puller.tally.conflict(self.entry.path, why)
        _log.warning("annotation conflict; both versions kept", path=self.entry.path,
                     local=str(target), platform=str(copy))

    async def _record(self, set_hash: str | None, stat: FileStat) -> None:
        record = replace(self.state, annotations_hash=set_hash, annotation_size=stat.size,
                         annotation_mtime_ns=stat.mtime_ns, status=FileStatus.SYNCED,
                         attempts=0, last_error=None)
        pair, item_id = self.puller.pair_id, self.entry.item["id"]
        await self._send(UpsertFile(pair, record))
        before, after = set(self.state.annotation_ids), set(self.document.owned)
        gone = tuple(sorted({i for _, i in before} - {i for _, i in after}))
        if gone:
            await self._send(RemoveAnnotations(pair, item_id, gone))
        added = tuple(sorted(after - before))
        if added:
            await self._send(AddAnnotations(pair, item_id, added))

    async def _send(self, op: Any) -> None:
        await self.puller._send_unless_dry(op)


async def poll_annotations(pair: PairConfig, client: DataloopClient, store: StateStore,
                           pair_id: int, *, full: bool = False) -> PullResult:
    """One incremental pull of ``pair``'s annotations, for the service's reconcile interval.

    The caller holds the pair's lock and an open client; the first poll (no watermark yet) or
    ``full=True`` looks at every item.
    """
    options = PullOptions(full=full, kind=RunKind.PULL)
    return await Puller(pair, client, store, pair_id, options).run()


def conflict_policies() -> Sequence[str]:
    """The values ``--conflict`` accepts."""
    return [policy.value for policy in ConflictPolicy]

