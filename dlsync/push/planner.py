"""Turn (local scan x state x remote listing) into jobs, streaming, in a worker thread.

The planner walks the march once. For each path it reads the file only when its stat moved
(``decide.needs_hash``), asks ``decide`` for a verdict, and hands the resulting job to ``emit``
at once, so transfers start while the walk goes on and no listing sits in memory whole. Only
what can turn out to be a move waits for the end of the walk: new files whose content state has
seen before, and tracked files that are gone locally. Deletes always wait (they run last).

The planner does blocking I/O (scandir, stat, hashing, SQLite reads) and runs in a thread; it
talks to the event loop only through the two callbacks it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path

from dlsync import constants, logs
from dlsync.errors import AnnotationFileError, FileChangedError, FileVanishedError, LocalFileError
from dlsync.local.annotations import load_annotation_file
from dlsync.local.fingerprint import FileRead, read_small
from dlsync.local.ignore import IgnoreRules
from dlsync.local.labelformat import LabelReader
from dlsync.local.layout import AnnotationLayout
from dlsync.local.scan import scan
from dlsync.model import (
    Action,
    ActionKind,
    FileStatus,
    LocalEntry,
    RelPath,
    ScanProblem,
    StateRecord,
)
from dlsync.push.annotate import AnnotationWork, diff_annotations
from dlsync.push.decide import Policy, StateChange, Verdict, decide, needs_hash, pair_moves
from dlsync.push.job import Job
from dlsync.push.march import UNJOINABLE, Pair, march
from dlsync.state.ops import DeleteFile, MarkFile, UpsertFile, WriteOp
from dlsync.state.queries import StateReader

_log = logs.get_logger(__name__)

_ANNOTATED = frozenset({ActionKind.UPLOAD, ActionKind.REUPLOAD, ActionKind.OVERWRITE,
                        ActionKind.ADOPT, ActionKind.ANNOTATE})
"""Kinds whose executor step brings the item's annotations in line with its file."""
_DIFFED = frozenset({ActionKind.ANNOTATE, ActionKind.OVERWRITE, ActionKind.ADOPT})
"""Kinds whose plan line shows the annotation diff."""
_SENT = frozenset({ActionKind.UPLOAD, ActionKind.REUPLOAD, ActionKind.OVERWRITE})
"""Kinds that send the file's bytes: a small file's, as hashed, ride along in the job."""


@dataclass(frozen=True, slots=True)
class Source:
    """The local side of a sync pair as the planner reads it."""

    root: Path
    rules: IgnoreRules
    layout: AnnotationLayout
    follow_symlinks: bool = False
    labels: LabelReader | None = None       # YOLO, VOC: the codec reading label files


@dataclass(slots=True)
class Deferred:
    """What waits for the end of the walk: move candidates and deletes."""

    new_files: list[Job] = field(default_factory=list)
    gone: dict[str, Job] = field(default_factory=dict)      # by path: tracked, gone locally
    delete_gone: set[str] = field(default_factory=set)      # of those, the ones to delete
    deletes: list[Job] = field(default_factory=list)        # untracked remote-only items
    tracked: int = 0
    stopped: bool = False                                   # the walk ended early (``stop``)


class Planner:
    """Plans one cycle of one pair; ``emit`` takes jobs, ``record`` takes state writes."""

    def __init__(self, source: Source, pair: int, policy: Policy,
                 emit: Callable[[Job], None], record: Callable[[WriteOp], None]) -> None:
        self.source = source
        self.pair = pair
        self.policy = policy
        self._emit = emit
        self._record = record
        self.deferred = Deferred()
        self.problems = 0
        self.kept_annotations = 0      # items whose gone annotation file's set stays (no delete)
        self.excluded_kept = 0         # remote items of excluded paths that are not deleted
        self._may_move = True          # set per walk: whether state knows any item yet
        self.stop: Callable[[], bool] = lambda: False
        """Asked before each path; once it answers True the walk ends, ``deferred.stopped`` set.
        What was deferred is then incomplete: the caller must not act on it."""

    def walk(self, reader: StateReader) -> Deferred:
        """March the scan against state and the cached remote listing; emit what is ready."""
        local = scan(self.source.root, rules=self.source.rules, layout=self.source.layout,
                     follow_symlinks=self.source.follow_symlinks)
        # a move needs a file state knew with an item before this walk; without any (a first
        # mirror), no new file is looked up by content
        self._may_move = reader.has_items(self.pair)
        labels = self.source.labels
        with labels.walking() if labels else nullcontext():
            if labels is not None:
                local = labels.paired(local)
            self.plan_pairs(march(self._report_unjoinable(local),
                                  self._count(reader.files(self.pair, annotation_ids=False)),
                                  reader.remote_items(self.pair)), reader)
        return self.deferred

    def plan_pairs(self, pairs: Iterable[Pair], reader: StateReader) -> None:
        """Plan each marched pair in turn, until ``stop`` answers True."""
        for pair in pairs:
            if self.stop():
                self.deferred.stopped = True
                return
            self._plan_one(pair, reader)

    def _report_unjoinable(self, local: Iterable[LocalEntry | ScanProblem]
                           ) -> Iterator[LocalEntry | ScanProblem]:
        """Fail by name the paths the march cannot place (undecodable or NFC-twin names)."""
        for entry in local:
            if isinstance(entry, ScanProblem) and entry.kind in UNJOINABLE:
                self.problems += 1
                _log.warning("path skipped", path=entry.path, kind=entry.kind.value,
                             reason=entry.reason)
                self._emit(Job(Action(ActionKind.ERROR, RelPath(entry.path), entry.reason)))
                continue
            yield entry

    def _count(self, records: Iterable[StateRecord]) -> Iterator[StateRecord]:
        for record in records:
            if record.status is not FileStatus.DELETED:
                self.deferred.tracked += 1
            yield record

    def _plan_one(self, pair: Pair, reader: StateReader) -> None:
        if isinstance(pair.problem, ScanProblem) and pair.problem.path == pair.path:
            self.problems += 1
            log = _log.info if pair.problem.kind.by_policy else _log.warning
            log("path left out" if pair.problem.kind.by_policy else "path skipped",
                path=pair.problem.path, kind=pair.problem.kind.value,
                reason=pair.problem.reason)
        read: FileRead | None = None
        if needs_hash(pair):
            assert pair.local is not None
            read = self._hash(pair)
            if read is None:
                return
        verdict = decide(pair, read.fingerprint if read else None, self.policy)
        self._apply(pair, verdict, reader, read.content if read else None)

    def _hash(self, pair: Pair) -> FileRead | None:
        assert pair.local is not None
        try:
            return read_small(self.source.root, pair.local, constants.CARRIED_FILE_BYTES)
        except FileVanishedError:
            return None  # the next scan sees it as deleted
        except FileChangedError as exc:
            _log.info("file still changing; will retry once it settles", path=pair.path,
                      reason=exc.reason)
            return None
        except LocalFileError as exc:
            self._emit(Job(Action(ActionKind.ERROR, pair.path, exc.reason), local=pair.local,
                           state=pair.state))
            return None

    def _apply(self, pair: Pair, verdict: Verdict, reader: StateReader,
               content: bytes | None) -> None:
        action = verdict.action
        if action is not None and action.kind is ActionKind.DELETE and self._excluded(pair):
            self.excluded_kept += 1
            verdict = Verdict(None, "excluded by the ignore rules; kept on the platform",
                              StateChange.MARK_DELETED if pair.state else StateChange.NONE)
            action = None
        self._state_change(pair, verdict)
        if action is None:
            return
        work = self._annotation_work(pair, action, reader)
        if work is not None and work.diff is not None and action.kind in _DIFFED:
            action = replace(action, added=len(work.diff.post), removed=work.diff.removed)
        job = Job(action, local=pair.local, state=pair.state, remote=pair.remote,
                  annotations_changed=verdict.annotations_changed, annotations=work,
                  content=content if action.kind in _SENT else None)
        if action.kind is ActionKind.ANNOTATE and self._needs_no_annotation_step(pair, work):
            return
        if action.kind is ActionKind.UPLOAD and self._seen_before(action, reader):
            # waits for the end of the walk: its bytes are read again if it is sent
            self.deferred.new_files.append(replace(job, content=None))
        elif action.kind is ActionKind.DELETE:
            if pair.state is not None:
                self.deferred.gone[pair.path] = job
                self.deferred.delete_gone.add(pair.path)
            else:
                self.deferred.deletes.append(job)
        else:
            self._emit(job)

    def _excluded(self, pair: Pair) -> bool:
        """True when the ignore rules exclude ``pair``'s path and excluded paths are kept."""
        return not self.policy.delete_excluded and \
            self.source.rules.matches(pair.path, is_dir=False)

    def _annotation_work(self, pair: Pair, action: Action,
                         reader: StateReader) -> AnnotationWork | None:
        """Read the item's annotation file once and diff it with what dlsync owns there."""
        local, state, remote = pair.local, pair.state, pair.remote
        if local is None or action.kind not in _ANNOTATED:
            return None
        had = (state is not None and state.annotations_hash is not None) or \
            (remote is not None and remote.annotations_hash is not None)
        if local.annotation_path is None and not had:
            return None
        wanted, error = None, None
        if local.annotation_path is not None:
            try:
                wanted = self.source.labels.read(local) if self.source.labels else \
                    load_annotation_file(local.annotation_path)
            except AnnotationFileError as exc:
                error = exc  # the executor reports it, naming the file
        owned = self._owned(pair, action, reader)
        diff = diff_annotations(wanted, owned) if owned is not None and error is None else None
        return AnnotationWork(wanted, error, owned, local.annotation_path is None and had,
                              self.policy.delete, diff)

    def _owned(self, pair: Pair, action: Action,
               reader: StateReader) -> tuple[tuple[str, str], ...] | None:
        """What state says dlsync created on the item; ``None`` when only a listing can tell."""
        if action.item_id is None:
            return () if pair.remote is None else None
        owned = reader.annotation_ids(self.pair, action.item_id)
        state, remote = pair.state, pair.remote
        history = (state is not None and (state.annotations_hash is not None
                                          or state.status is FileStatus.FAILED)) or \
            (remote is not None and remote.annotations_hash is not None)
        return owned if owned or not history else None

    def _needs_no_annotation_step(self, pair: Pair, work: AnnotationWork | None) -> bool:
        """True (and state refreshed where needed) when an ANNOTATE job would change nothing:
        only the annotation file's stat moved, or its file is gone and deletes are off."""
        if work is not None and work.keeps_gone_set:
            self.kept_annotations += 1
            return True
        return self._same_annotations(pair, work)

    def _same_annotations(self, pair: Pair, work: AnnotationWork | None) -> bool:
        """True (and state refreshed) when only the annotation file's stat moved, not its set."""
        local, state = pair.local, pair.state
        if local is None or state is None or local.annotation_path is None or \
                state.annotations_hash is None or work is None or work.wanted is None:
            return False
        if work.wanted.set_hash != state.annotations_hash:
            return False
        self._record(UpsertFile(self.pair, replace(
            state, size=local.size, mtime_ns=local.mtime_ns, inode=local.inode,
            annotation_size=local.annotation_size,
            annotation_mtime_ns=local.annotation_mtime_ns)))
        return True

    def _seen_before(self, action: Action, reader: StateReader) -> bool:
        if action.sha256 is None or not self._may_move:
            return False
        return any(r.path != action.path and r.item_id is not None
                   for r in reader.files_with_content(self.pair, action.sha256, action.size))

    def _state_change(self, pair: Pair, verdict: Verdict) -> None:
        change = verdict.state_change
        if change is StateChange.NONE:
            return
        if change is StateChange.FORGET:
            self._record(DeleteFile(self.pair, pair.path))
        elif change is StateChange.MARK_DELETED:
            assert pair.state is not None
            if pair.remote is not None and pair.state.item_id is not None:
                # a move candidate until the walk ends; marked deleted if nothing matches
                self.deferred.gone.setdefault(pair.path, Job(
                    Action(ActionKind.DELETE, pair.path, verdict.reason,
                           item_id=pair.state.item_id, sha256=pair.state.sha256,
                           size=pair.state.size),
                    state=pair.state, remote=pair.remote))
            else:
                self._record(MarkFile(self.pair, pair.path, FileStatus.DELETED,
                                      pair.state.attempts, None))
        elif change is StateChange.REFRESH and verdict.action is None:
            assert pair.local is not None and pair.state is not None
            self._record(UpsertFile(self.pair, replace(
                pair.state, size=pair.local.size, mtime_ns=pair.local.mtime_ns,
                inode=pair.local.inode)))


@dataclass(frozen=True, slots=True)
class Finale:
    """What the end of the walk decided: moves, leftover uploads, deletes, marks."""

    moves: tuple[Job, ...]
    uploads: tuple[Job, ...]
    deletes: tuple[Job, ...]
    marks: tuple[WriteOp, ...]


def finish(deferred: Deferred, pair: int) -> Finale:
    """Pair deferred new files with gone files: matches become moves (DESIGN.md decision 5)."""
    new_by_path = {job.action.path: job for job in deferred.new_files}
    gone_records = [job.state for job in deferred.gone.values() if job.state is not None]
    pairing = pair_moves((job.action for job in deferred.new_files), gone_records)
    by_source = {path: job for path, job in deferred.gone.items()}
    moves = []
    for move in pairing.moves:
        new_job = new_by_path[move.path]
        assert move.source is not None
        old = by_source[move.source]
        moves.append(Job(move, local=new_job.local, state=old.state, remote=old.remote,
                         annotations_changed=_annotations_differ(new_job.local, old.state)))
    uploads = tuple(new_by_path[action.path] for action in pairing.uploads)
    left = {record.path for record in pairing.gone}
    deletes: list[Job] = []
    marks: list[WriteOp] = []
    for path, job in deferred.gone.items():
        if path not in left:
            continue
        if path in deferred.delete_gone:
            deletes.append(job)
        else:
            assert job.state is not None
            marks.append(MarkFile(pair, job.action.path, FileStatus.DELETED,
                                  job.state.attempts, None))
    deletes.extend(deferred.deletes)
    return Finale(tuple(moves), uploads, tuple(deletes), tuple(marks))


def _annotations_differ(local: LocalEntry | None, state: StateRecord | None) -> bool:
    if local is None or state is None:
        return False
    if local.annotation_path is None:
        return state.annotations_hash is not None
    return (local.annotation_size, local.annotation_mtime_ns) != (
        state.annotation_size, state.annotation_mtime_ns) or state.annotations_hash is None
