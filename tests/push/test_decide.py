"""The decision ladder, row by row, and move pairing."""

from __future__ import annotations

import pytest

from dlsync.model import Action, ActionKind, FileStatus, Fingerprint, RelPath
from dlsync.push.decide import (
    Policy,
    StateChange,
    decide,
    group_folder_moves,
    needs_hash,
    pair_moves,
)
from dlsync.push.march import Pair
from tests.push.factories import SHA_A, SHA_B, local, problem, remote, state

FP_A = Fingerprint(SHA_A, 10)
FP_B = Fingerprint(SHA_B, 10)
KEEP = Policy(delete=False)
DELETE = Policy(delete=True)
PUSH_OVER = Policy(push_over_conflicts=True)
ANN = "/root/a.jpg.json"

# (name, pair, local fingerprint, policy, action kind or None, reason fragment, state change,
#  annotations_changed)
ROWS = [
    ("local only", Pair(RelPath("a"), local("a")), FP_A, KEEP,
     ActionKind.UPLOAD, "new file", StateChange.NONE, False),
    ("local only with annotations", Pair(RelPath("a"), local("a", annotation=ANN)), FP_A, KEEP,
     ActionKind.UPLOAD, "new file", StateChange.NONE, True),
    ("no state, remote same", Pair(RelPath("a"), local("a"), None, remote("a")), FP_A, KEEP,
     ActionKind.ADOPT, "already has this content", StateChange.NONE, False),
    ("no state, remote other", Pair(RelPath("a"), local("a"), None, remote("a", SHA_B)), FP_A,
     KEEP, ActionKind.OVERWRITE, "remote item has other content", StateChange.NONE, False),
    ("no state, remote unfingerprinted", Pair(RelPath("a"), local("a"), None, remote("a", None)),
     FP_A, KEEP, ActionKind.OVERWRITE, "remote item differs", StateChange.NONE, False),
    ("unchanged", Pair(RelPath("a"), local("a"), state("a"), remote("a")), None, KEEP,
     None, "unchanged", StateChange.NONE, False),
    ("touched, same sha", Pair(RelPath("a"), local("a", mtime_ns=5), state("a"), remote("a")),
     FP_A, KEEP, None, "stat changed, same content", StateChange.REFRESH, False),
    ("content changed", Pair(RelPath("a"), local("a", mtime_ns=5), state("a"), remote("a")),
     FP_B, KEEP, ActionKind.OVERWRITE, "content changed", StateChange.NONE, False),
    ("missing remotely", Pair(RelPath("a"), local("a"), state("a")), None, KEEP,
     ActionKind.REUPLOAD, "missing on the platform", StateChange.NONE, False),
    ("changed on platform", Pair(RelPath("a"), local("a"), state("a"), remote("a", SHA_B)), None,
     KEEP, ActionKind.OVERWRITE, "changed on the platform", StateChange.NONE, False),
    ("replaced on platform", Pair(RelPath("a"), local("a"), state("a"),
                                  remote("a", item_id="item-2")), None,
     KEEP, ActionKind.OVERWRITE, "changed on the platform", StateChange.NONE, False),
    ("both changed", Pair(RelPath("a"), local("a", mtime_ns=5), state("a"), remote("a", SHA_B,
                                                                                    size=3)),
     FP_B, KEEP, ActionKind.CONFLICT, "changed here and on the platform", StateChange.NONE,
     False),
    ("both changed alike", Pair(RelPath("a"), local("a", mtime_ns=5), state("a"),
                                remote("a", SHA_B)),
     FP_B, KEEP, ActionKind.ADOPT, "same content", StateChange.NONE, False),
    ("conflict persists", Pair(RelPath("a"), local("a"), state("a", status=FileStatus.CONFLICT),
                               remote("a", SHA_B)), None, KEEP,
     ActionKind.CONFLICT, "nothing written", StateChange.NONE, False),
    ("open annotation conflict left alone",
     Pair(RelPath("a"), local("a", annotation=ANN, annotation_size=9),
          state("a", status=FileStatus.CONFLICT, annotations_hash="h", annotation_size=8,
                last_error="platform's version is in a.jpg.conflict-1.json"), remote("a")),
     None, KEEP, ActionKind.CONFLICT, "a.jpg.conflict-1.json", StateChange.NONE, False),
    ("open annotation conflict, no reason kept",
     Pair(RelPath("a"), local("a", annotation=ANN, annotation_size=9),
          state("a", status=FileStatus.CONFLICT, annotations_hash="h", annotation_size=8),
          remote("a")),
     None, KEEP, ActionKind.CONFLICT, "then run dlsync pull", StateChange.NONE, False),
    ("open annotation conflict, local wins",
     Pair(RelPath("a"), local("a", annotation=ANN, annotation_size=9),
          state("a", status=FileStatus.CONFLICT, annotations_hash="h", annotation_size=8),
          remote("a")),
     None, PUSH_OVER, ActionKind.ADOPT, "same content", StateChange.NONE, True),
    ("conflict, annotation file as synced",
     Pair(RelPath("a"), local("a", annotation=ANN, annotation_size=8),
          state("a", status=FileStatus.CONFLICT, annotations_hash="h", annotation_size=8),
          remote("a")),
     None, KEEP, ActionKind.ADOPT, "same content", StateChange.NONE, True),
    ("annotations changed", Pair(RelPath("a"), local("a", annotation=ANN, annotation_size=9),
                                 state("a", annotations_hash="h", annotation_size=8),
                                 remote("a")), None, KEEP,
     ActionKind.ANNOTATE, "annotations changed", StateChange.NONE, True),
    ("annotations first seen", Pair(RelPath("a"), local("a", annotation=ANN), state("a"),
                                    remote("a")), None, KEEP,
     ActionKind.ANNOTATE, "annotations changed", StateChange.NONE, True),
    ("annotation file removed", Pair(RelPath("a"), local("a"),
                                     state("a", annotations_hash="h"), remote("a")), None, KEEP,
     ActionKind.ANNOTATE, "annotations changed", StateChange.NONE, True),
    ("annotations and stat", Pair(RelPath("a"), local("a", mtime_ns=7, annotation=ANN),
                                  state("a"), remote("a")), FP_A, KEEP,
     ActionKind.ANNOTATE, "annotations changed", StateChange.REFRESH, True),
    ("failed is retried", Pair(RelPath("a"), local("a"),
                               state("a", status=FileStatus.FAILED, last_error="timeout")),
     None, KEEP, ActionKind.UPLOAD, "retry after failure (timeout)", StateChange.NONE, False),
    ("failed but landed", Pair(RelPath("a"), local("a"), state("a", status=FileStatus.FAILED),
                               remote("a")), None, KEEP,
     ActionKind.ADOPT, "retry after failure", StateChange.NONE, False),
    ("pending adopts", Pair(RelPath("a"), local("a"), state("a", status=FileStatus.PENDING),
                            remote("a")), None, KEEP,
     ActionKind.ADOPT, "already has this content", StateChange.NONE, False),
    ("gone both sides", Pair(RelPath("a"), None, state("a")), None, KEEP,
     None, "gone on both sides", StateChange.FORGET, False),
    ("deleted locally, deletes off", Pair(RelPath("a"), None, state("a"), remote("a")), None,
     KEEP, None, "remote item kept", StateChange.MARK_DELETED, False),
    ("already marked deleted", Pair(RelPath("a"), None, state("a", status=FileStatus.DELETED),
                                    remote("a")), None,
     KEEP, None, "remote item kept", StateChange.NONE, False),
    ("deleted locally, deletes on", Pair(RelPath("a"), None, state("a"), remote("a")), None,
     DELETE, ActionKind.DELETE, "deleted locally", StateChange.NONE, False),
    ("deleted locally, changed remotely", Pair(RelPath("a"), None, state("a"),
                                               remote("a", SHA_B)),
     None, DELETE, None, "changed on the platform since; kept", StateChange.MARK_DELETED, False),
    ("remote only, deletes off", Pair(RelPath("a"), None, None, remote("a")), None, KEEP,
     None, "only on the platform", StateChange.NONE, False),
    ("remote only, deletes on", Pair(RelPath("a"), None, None, remote("a")), None, DELETE,
     ActionKind.DELETE, "not in the local folder", StateChange.NONE, False),
    ("scan problem", Pair(RelPath("d"), None, state("d"), None, problem("d")), None, DELETE,
     ActionKind.ERROR, "Permission denied", StateChange.NONE, False),
    ("under a scan problem", Pair(RelPath("d/x"), None, state("d/x"), remote("d/x"),
                                  problem("d")), None, DELETE,
     None, "d could not be scanned", StateChange.NONE, False),
]


@pytest.mark.parametrize(("pair", "fp", "policy", "kind", "reason", "change", "annotations"),
                         [row[1:] for row in ROWS], ids=[row[0] for row in ROWS])
def test_ladder(pair: Pair, fp: Fingerprint | None, policy: Policy, kind: ActionKind | None,
                reason: str, change: StateChange, annotations: bool) -> None:
    """Each situation gets the documented action, reason, state change and annotation flag."""
    verdict = decide(pair, fp, policy)
    assert (verdict.action.kind if verdict.action else None) == kind
    assert reason in verdict.reason
    assert verdict.state_change is change
    assert verdict.annotations_changed is annotations
    if verdict.action is not None:
        assert verdict.action.reason == verdict.reason and verdict.action.path == pair.path


def test_actions_carry_item_id_size_and_sha() -> None:
    """An overwrite names the remote item it replaces and the content it sends."""
    verdict = decide(Pair(RelPath("a"), local("a"), None, remote("a", SHA_B, item_id="it")),
                     FP_A, KEEP)
    assert verdict.action == Action(ActionKind.OVERWRITE, RelPath("a"), verdict.reason,
                                    size=10, item_id="it", sha256=SHA_A)


def test_record_only_is_true_only_without_action() -> None:
    """record_only means: write state, send nothing."""
    touched = decide(Pair(RelPath("a"), local("a", mtime_ns=5), state("a"), remote("a")),
                     FP_A, KEEP)
    assert touched.record_only
    assert not decide(Pair(RelPath("a"), local("a")), FP_A, KEEP).record_only


@pytest.mark.parametrize(("pair", "want"), [
    (Pair(RelPath("a"), local("a")), True),
    (Pair(RelPath("a"), local("a"), state("a", sha256=None)), True),
    (Pair(RelPath("a"), local("a"), state("a")), False),
    (Pair(RelPath("a"), local("a", size=11), state("a")), True),
    (Pair(RelPath("a"), local("a", mtime_ns=2), state("a")), True),
    (Pair(RelPath("a"), local("a", inode=2), state("a")), True),
    (Pair(RelPath("a"), None, state("a")), False),
    (Pair(RelPath("a"), local("a"), None, None, problem("a")), False),
])
def test_needs_hash(pair: Pair, want: bool) -> None:
    """A file is read only when state has no sha for it or its stat moved."""
    assert needs_hash(pair) is want


def test_decide_refuses_to_guess_without_a_needed_fingerprint() -> None:
    """A moved stat without a fingerprint is a caller bug, reported with the path."""
    with pytest.raises(ValueError, match="'a'"):
        decide(Pair(RelPath("a"), local("a", mtime_ns=9), state("a")), None, KEEP)


def upload(path: str, sha: str = SHA_A, size: int = 10) -> Action:
    return Action(ActionKind.UPLOAD, RelPath(path), "new file", size=size, sha256=sha)


def test_moves_pair_same_content_and_drop_the_delete() -> None:
    """A new file with the content of a gone one becomes a MOVE keeping the item id."""
    result = pair_moves([upload("new/a.jpg"), upload("c.jpg", SHA_B)],
                        [state("old/a.jpg", item_id="it-1"),
                         state("gone.jpg", sha256=SHA_B, size=3)])
    assert result.moves == (Action(ActionKind.MOVE, RelPath("new/a.jpg"), "moved from old/a.jpg",
                                   size=10, item_id="it-1", source=RelPath("old/a.jpg"),
                                   sha256=SHA_A),)
    assert [a.path for a in result.uploads] == ["c.jpg"]
    assert [r.path for r in result.gone] == ["gone.jpg"]


def test_move_ties_prefer_same_name_then_same_folder_whatever_the_input_order() -> None:
    """Identical files are matched to the closest old path, deterministically."""
    new = [upload("x/b/one.jpg"), upload("y/two.jpg")]
    gone = [state("a/one.jpg", item_id="1"), state("x/two.jpg", item_id="2"),
            state("y/other.jpg", item_id="3")]
    first = pair_moves(new, gone)
    second = pair_moves(list(reversed(new)), list(reversed(gone)))
    assert first == second
    assert {(m.source, m.path) for m in first.moves} == {("a/one.jpg", "x/b/one.jpg"),
                                                         ("x/two.jpg", "y/two.jpg")}
    assert [r.path for r in first.gone] == ["y/other.jpg"]


def test_folder_rename_groups_into_one_bulk_move() -> None:
    """Moves that keep their names group by (old folder, new folder); renames stay single."""
    result = pair_moves([upload("new/a", SHA_A), upload("new/b", SHA_B),
                         upload("new/c2", "c" * 64)],
                        [state("old/a", sha256=SHA_A, item_id="1"),
                         state("old/b", sha256=SHA_B, item_id="2"),
                         state("old/c", sha256="c" * 64, item_id="3")])
    folders, renames = group_folder_moves(result.moves)
    assert [(f.source_dir, f.target_dir, [m.item_id for m in f.moves]) for f in folders] == [
        ("old", "new", ["1", "2"])]
    assert [(r.source, r.path) for r in renames] == [("old/c", "new/c2")]
