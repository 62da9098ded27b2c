"""What to do with one pair, and why: pure rules over value types, no I/O.

The ladder, tried top to bottom; the first matching row decides (L local file, S state record,
R remote item, F the local fingerprint, "same" means equal SHA-256 and size):

    row  situation                                          action      state change
    ---  -------------------------------------------------  ----------  ------------
     1   the scan reported a problem for this path          ERROR       -
     2   a parent directory could not be scanned            -           -
     3   L, no S usable (none, pending, failed, deleted):
         a   no R                                           UPLOAD      -
         b   R has F                                        ADOPT       -
         c   R differs or has no fingerprint                OVERWRITE   -
     4   L, S synced, no R                                  REUPLOAD    -
     5   L, S in conflict, or content and R both changed:
         o   open annotation conflict (content and R as      CONFLICT    -
             synced, annotation file moved), unless
             ``push_over_conflicts``
         a   R now equals F                                 ADOPT       -
         b   otherwise                                      CONFLICT    -
     6   L, S synced, content changed                       OVERWRITE   -
     7   L, S synced, R changed on the platform             OVERWRITE   -
     8   L, S synced, annotation file changed               ANNOTATE    refresh if stat moved
     9   L, S synced, stat moved but same content           -           refresh (record only)
    10   L, S synced, nothing moved                         -           -
    11   no L, S, no R (gone on both sides)                 -           forget
    12   no L, S, R changed on the platform since           -           mark deleted
    13   no L, S, R, deletes on                             DELETE      -
    14   no L, S, R, deletes off                            -           mark deleted
    15   no L, no S, R (untracked remote item), deletes on  DELETE      -
    16   no L, no S, R, deletes off                         -           -

"R changed on the platform" means R's item id is not the one in S, or R's fingerprint is missing
or names another SHA-256 than S. Whenever L has an annotation file (or S or R remembers a set),
rows 3, 4, 5a, 6 and 7 also set ``annotations_changed`` so the executor diffs the annotation
set after the content is in place.

Row 5o is the conflict a pull leaves open (``conflict = keep-both``): the local annotation file
and the platform's set both changed, the platform's version waits beside the local file. The
push side leaves it to the user and the next pull (it is reported again, nothing is sent);
with ``conflict = local`` (``push_over_conflicts``) row 5a pushes the local file as a diff.

Moves are decided afterwards over the whole cycle's uploads and deletes (``pair_moves``); a
folder rename becomes one bulk move per (old folder, new folder) (``group_folder_moves``).
"""

from __future__ import annotations

import enum
import posixpath
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from dlsync.model import (
    Action,
    ActionKind,
    FileStatus,
    Fingerprint,
    LocalEntry,
    RelPath,
    RemoteItem,
    StateRecord,
    path_key,
)
from dlsync.push.march import Pair


@dataclass(frozen=True, slots=True)
class Policy:
    """The user choices the rules depend on."""

    delete: bool = False
    push_over_conflicts: bool = False    # conflict = local: an open pull conflict goes up
    delete_excluded: bool = False        # remote items of ignored paths are deleted too


class StateChange(enum.StrEnum):
    """What the state record of a pair needs, besides what an action will record."""

    NONE = "none"
    REFRESH = "refresh"              # store the new stat of an unchanged file
    FORGET = "forget"                # drop the record: the file is gone on both sides
    MARK_DELETED = "mark-deleted"    # the file is gone locally; its remote item is kept


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of the ladder for one pair."""

    action: Action | None
    reason: str
    state_change: StateChange = StateChange.NONE
    annotations_changed: bool = False

    @property
    def record_only(self) -> bool:
        """True when only state needs writing and nothing goes to the platform."""
        return self.action is None and self.state_change is not StateChange.NONE


_UNTRUSTED = frozenset({FileStatus.PENDING, FileStatus.FAILED, FileStatus.DELETED})


def needs_hash(pair: Pair) -> bool:
    """True when the local file must be read: it is new to state or its stat moved."""
    local, state = pair.local, pair.state
    if local is None or pair.problem is not None:
        return False
    if state is None or state.sha256 is None:
        return True
    return (local.size, local.mtime_ns, local.inode) != (state.size, state.mtime_ns, state.inode)


def decide(pair: Pair, local_fp: Fingerprint | None, policy: Policy) -> Verdict:
    """Walk the ladder in the module docstring for ``pair``.

    ``local_fp`` must be given when ``needs_hash(pair)``; otherwise it may be None and the state
    record's SHA-256 stands for the content.
    """
    if pair.problem is not None:
        return _problem(pair)
    if pair.local is None:
        return _local_gone(pair, policy)
    if needs_hash(pair) and local_fp is None:
        raise ValueError(f"decide({pair.path!r}) needs the local fingerprint: its stat moved")
    state = pair.state
    fingerprint = local_fp or _recorded(pair.local, state)
    if state is None or state.status in _UNTRUSTED or state.item_id is None:
        return _untracked(pair.local, state, pair.remote, fingerprint)
    return _tracked(pair.local, state, pair.remote, fingerprint, policy)


def _problem(pair: Pair) -> Verdict:
    problem = pair.problem
    assert problem is not None
    if problem.path == pair.path:
        kind = ActionKind.EXCLUDED if problem.kind.by_policy else ActionKind.ERROR
        return Verdict(Action(kind, pair.path, problem.reason), problem.reason)
    return Verdict(None, f"not checked: {problem.path} could not be scanned ({problem.reason})")


def _recorded(local: LocalEntry, state: StateRecord | None) -> Fingerprint:
    assert state is not None and state.sha256 is not None
    return Fingerprint(state.sha256, local.size)


def _untracked(local: LocalEntry, state: StateRecord | None, remote: RemoteItem | None,
               fingerprint: Fingerprint) -> Verdict:
    """Rows 3a-3c: no state to trust, so the remote item decides."""
    retry = f"retry after failure ({state.last_error}): " if state is not None and \
        state.status is FileStatus.FAILED else ""
    annotated = _has_annotations(local, state, remote)
    if remote is None:
        return _act(ActionKind.UPLOAD, _Seen(local, fingerprint, None),
                    retry + "new file", annotated)
    if remote.fingerprint == fingerprint:
        return _act(ActionKind.ADOPT, _Seen(local, fingerprint, remote),
                    retry + "remote item already has this content", annotated)
    why = "remote item has other content" if remote.fingerprint else \
        "remote item differs (no dlsync fingerprint)"
    return _act(ActionKind.OVERWRITE, _Seen(local, fingerprint, remote),
                retry + why, annotated)


def _tracked(local: LocalEntry, state: StateRecord, remote: RemoteItem | None,
             fingerprint: Fingerprint, policy: Policy) -> Verdict:
    """Rows 4-10: a synced (or conflicting) record, compared with both sides."""
    content_changed = fingerprint.sha256 != state.sha256
    annotated = _has_annotations(local, state, remote)
    if remote is None:
        return _act(ActionKind.REUPLOAD, _Seen(local, fingerprint, None),
                    "synced before, missing on the platform", annotated)
    remote_changed = _changed_remotely(state, remote)
    if not policy.push_over_conflicts and _open_annotation_conflict(
            local, state, content_changed or remote_changed):
        return _act(ActionKind.CONFLICT, _Seen(local, fingerprint, remote),
                    state.last_error or _OPEN_CONFLICT, False)
    if state.status is FileStatus.CONFLICT or (content_changed and remote_changed):
        if remote.fingerprint == fingerprint:
            return _act(ActionKind.ADOPT, _Seen(local, fingerprint, remote),
                        "both sides now hold the same content", annotated)
        return _act(ActionKind.CONFLICT, _Seen(local, fingerprint, remote),
                    "changed here and on the platform since the last sync; nothing written", False)
    if content_changed:
        return _act(ActionKind.OVERWRITE, _Seen(local, fingerprint, remote),
                    "content changed", annotated)
    if remote_changed:
        return _act(ActionKind.OVERWRITE, _Seen(local, fingerprint, remote),
                    "changed on the platform; the local copy is restored", annotated)
    return _unchanged(local, state, remote, fingerprint)


_OPEN_CONFLICT = ("annotations changed here and on the platform since the last sync; "
                  "nothing sent: resolve the conflict, then run dlsync pull")


def _open_annotation_conflict(local: LocalEntry, state: StateRecord,
                              content_or_remote_changed: bool) -> bool:
    """Row 5o: a conflict over annotations alone, the kind a pull leaves open."""
    return (state.status is FileStatus.CONFLICT and not content_or_remote_changed
            and _annotations_changed(local, state))


def _unchanged(local: LocalEntry, state: StateRecord, remote: RemoteItem,
               fingerprint: Fingerprint) -> Verdict:
    """Rows 8-10: same content on both sides; maybe new annotations or a moved stat."""
    stat_moved = (local.size, local.mtime_ns, local.inode) != (
        state.size, state.mtime_ns, state.inode)
    refresh = StateChange.REFRESH if stat_moved else StateChange.NONE
    if _annotations_changed(local, state):
        verdict = _act(ActionKind.ANNOTATE, _Seen(local, fingerprint, remote),
                       "annotations changed", True)
        return Verdict(verdict.action, verdict.reason, refresh, True)
    if stat_moved:
        return Verdict(None, "stat changed, same content", refresh)
    return Verdict(None, "unchanged")


def _local_gone(pair: Pair, policy: Policy) -> Verdict:
    """Rows 11-16: no local file."""
    state, remote = pair.state, pair.remote
    if state is None:
        if remote is not None and policy.delete:
            return Verdict(_delete(remote, "not in the local folder"), "not in the local folder")
        return Verdict(None, "only on the platform; kept (deletes are off)")
    if remote is None:
        return Verdict(None, "gone on both sides", StateChange.FORGET)
    if _changed_remotely(state, remote):
        return Verdict(None, "deleted locally but changed on the platform since; kept",
                       StateChange.MARK_DELETED)
    if policy.delete:
        return Verdict(_delete(remote, "deleted locally"), "deleted locally")
    if state.status is FileStatus.DELETED:
        return Verdict(None, "deleted locally; remote item kept (deletes are off)")
    return Verdict(None, "deleted locally; remote item kept (deletes are off)",
                   StateChange.MARK_DELETED)


class _Seen(NamedTuple):
    """One path's local file, its content fingerprint, and its remote item if any."""

    local: LocalEntry
    fingerprint: Fingerprint
    remote: RemoteItem | None


def _act(kind: ActionKind, seen: _Seen, reason: str, annotations_changed: bool) -> Verdict:
    local, fingerprint, remote = seen
    action = Action(kind, local.path, reason, size=fingerprint.size,
                    item_id=remote.item_id if remote else None, sha256=fingerprint.sha256)
    return Verdict(action, reason, annotations_changed=annotations_changed)


def _delete(remote: RemoteItem, reason: str) -> Action:
    return Action(ActionKind.DELETE, remote.path, reason, size=remote.size,
                  item_id=remote.item_id,
                  sha256=remote.fingerprint.sha256 if remote.fingerprint else None)


def _changed_remotely(state: StateRecord, remote: RemoteItem) -> bool:
    return (remote.item_id != state.item_id or remote.fingerprint is None
            or remote.fingerprint.sha256 != state.sha256)


def _has_annotations(local: LocalEntry, state: StateRecord | None,
                     remote: RemoteItem | None) -> bool:
    """True when there is an annotation set to send, or one dlsync sent that may need removing."""
    return (local.annotation_path is not None
            or (state is not None and state.annotations_hash is not None)
            or (remote is not None and remote.annotations_hash is not None))


def _annotations_changed(local: LocalEntry, state: StateRecord) -> bool:
    if local.annotation_path is None:
        return state.annotations_hash is not None
    return state.annotations_hash is None or (local.annotation_size, local.annotation_mtime_ns) \
        != (state.annotation_size, state.annotation_mtime_ns)


# Moves -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MovePairing:
    """Uploads and gone files, with those that are one file moved turned into MOVE actions."""

    moves: tuple[Action, ...]
    uploads: tuple[Action, ...]          # the UPLOAD actions no gone file matched
    gone: tuple[StateRecord, ...]        # the gone records no new file matched


@dataclass(frozen=True, slots=True)
class FolderMove:
    """Moves that keep their file names and go from one folder to another: one bulk move."""

    source_dir: str
    target_dir: str
    moves: tuple[Action, ...]


def pair_moves(new_files: Iterable[Action], gone_files: Iterable[StateRecord]) -> MovePairing:
    """Match each new file to a gone tracked file with the same SHA-256 and size.

    ``new_files`` are UPLOAD actions carrying ``sha256``; ``gone_files`` are state records of
    files gone locally whose remote item still exists. Ties go to the closest old path: the same
    file name first, then the longest shared folder prefix, then path order; new files are
    matched in path order, so the result does not depend on input order.
    """
    candidates: dict[tuple[str, int], list[StateRecord]] = defaultdict(list)
    for record in gone_files:
        if record.sha256 is not None and record.item_id is not None:
            candidates[(record.sha256, record.size)].append(record)
    used: set[RelPath] = set()
    moves: list[Action] = []
    uploads: list[Action] = []
    for action in sorted(new_files, key=lambda a: path_key(a.path)):
        pool = [r for r in candidates.get((action.sha256 or "", action.size), ())
                if r.path not in used]
        if not pool:
            uploads.append(action)
            continue
        source = min(pool, key=lambda r: _distance(action.path, r.path))
        used.add(source.path)
        moves.append(Action(ActionKind.MOVE, action.path, f"moved from {source.path}",
                            size=action.size, item_id=source.item_id, source=source.path,
                            sha256=action.sha256))
    gone = tuple(r for group in candidates.values() for r in group if r.path not in used)
    unmatched = tuple(sorted(gone, key=lambda r: path_key(r.path)))
    return MovePairing(tuple(moves), tuple(uploads), unmatched)


def group_folder_moves(moves: Iterable[Action]) -> tuple[tuple[FolderMove, ...],
                                                         tuple[Action, ...]]:
    """Split moves into folder moves (same name, new folder) and renames (name changed)."""
    folders: dict[tuple[str, str], list[Action]] = defaultdict(list)
    renames: list[Action] = []
    for move in moves:
        assert move.source is not None
        old_dir, old_name = posixpath.split(move.source)
        new_dir, new_name = posixpath.split(move.path)
        if old_name == new_name:
            folders[(old_dir, new_dir)].append(move)
        else:
            renames.append(move)
    grouped = tuple(FolderMove(old, new, tuple(group))
                    for (old, new), group in sorted(folders.items()))
    return grouped, tuple(renames)


def _distance(new: str, old: str) -> tuple[bool, int, bytes]:
    new_parts, old_parts = new.split("/"), old.split("/")
    shared = 0
    for a, b in zip(new_parts[:-1], old_parts[:-1], strict=False):
        if a != b:
            break
        shared += 1
    return new_parts[-1] != old_parts[-1], -shared, path_key(old)
