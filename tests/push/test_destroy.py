"""The destruction gate: limits per kind, explicit limits, errors in the run, tickets."""

from __future__ import annotations

import pytest

from dlsync.destruction import DestructionGate, Limits
from dlsync.local.annotations import AnnotationSet
from dlsync.model import Action, ActionKind, RelPath
from dlsync.push.annotate import AnnotationWork
from dlsync.push.job import Job


def item_delete(i: int) -> Job:
    return Job(Action(ActionKind.DELETE, RelPath(f"f{i}"), "deleted locally", item_id=f"i{i}"))


def annotation_removal(i: int, count: int, *, file_gone: bool = False) -> Job:
    wanted = None if file_gone else AnnotationSet((), {}, "h")
    action = Action(ActionKind.DELETE_ANNOTATIONS, RelPath(f"a{i}"), "removed",
                    item_id=f"i{i}", removed=count)
    return Job(action, annotations=AnnotationWork(wanted, file_gone=file_gone),
               removal=tuple((f"h{n}", f"x{i}-{n}") for n in range(count)))


@pytest.mark.parametrize(("n", "tracked", "max_delete", "explicit", "allowed", "why"), [
    (0, 0, 100, False, True, ""),
    (10, 100, 100, False, True, ""),
    (100, 1000, 100, False, True, ""),
    (101, 1000, 100, False, False, "exceed max_delete=100"),
    (101, 1000, 500, True, True, ""),
    (51, 100, 100, False, False, "more than half of the 100 tracked"),
    (50, 100, 100, False, True, ""),
    (51, 100, 100, True, True, ""),
    (60, 100, 50, True, False, "exceed max_delete=50"),
])
def test_item_delete_limits(n: int, tracked: int, max_delete: int, explicit: bool,
                            allowed: bool, why: str) -> None:
    """Item deletes beyond max_delete, or beyond half the tracked files unless the limit is
    the pair's own, are refused, all of them."""
    limits = Limits(max_delete=max_delete,
                    explicit=frozenset({"max_delete"}) if explicit else frozenset())
    gate = DestructionGate(limits, tracked_files=tracked)
    for i in range(n):
        gate.defer(item_delete(i))
    release = gate.release(dry_run=False, had_errors=False)
    assert release.allowed is allowed
    assert why in release.reason
    assert len(release.items) == (n if allowed else 0)
    if not allowed:
        assert "nothing was deleted" in release.reason


@pytest.mark.parametrize(("count", "owned", "limit", "explicit", "allowed", "why"), [
    (5, 10, 1000, False, True, ""),            # under 100: the half rule does not apply
    (100, 150, 1000, False, True, ""),
    (101, 150, 1000, False, False, "more than half of the 150 annotations"),
    (101, 150, 1000, True, True, ""),
    (1001, 5000, 1000, False, False, "exceed max_delete_annotations=1000"),
    (11, 5000, 10, True, False, "exceed max_delete_annotations=10"),
])
def test_annotation_delete_limits(count: int, owned: int, limit: int, explicit: bool,
                                  allowed: bool, why: str) -> None:
    """Net annotation removals have a limit of their own and a half-of-owned rule past 100."""
    limits = Limits(max_delete_annotations=limit, explicit=frozenset(
        {"max_delete_annotations"}) if explicit else frozenset())
    gate = DestructionGate(limits, tracked_files=1000, owned_annotations=owned)
    gate.defer(annotation_removal(0, count))
    gate.defer(item_delete(1))
    release = gate.release(dry_run=False, had_errors=False)
    assert release.allowed is allowed
    assert why in release.reason
    assert len(release.annotations) == (1 if allowed else 0)
    assert len(release.items) == 1, "the other kind still runs"


def test_a_gone_annotation_file_counts_as_an_item_too() -> None:
    """A whole set removed because its file is gone counts against max_delete as one item;
    refused items hold the set back while ordinary removals still run."""
    gate = DestructionGate(Limits(max_delete=1, explicit=frozenset({"max_delete"})),
                           tracked_files=100, owned_annotations=100)
    gate.defer(item_delete(1))
    gate.defer(annotation_removal(2, 3, file_gone=True))
    gate.defer(annotation_removal(3, 1))
    release = gate.release(dry_run=False, had_errors=False)
    assert not release.allowed and "2 deletes exceed max_delete=1" in release.reason
    assert release.items == ()
    assert [j.action.path for j in release.annotations] == ["a3"]


def test_errors_in_the_run_hold_every_delete_without_refusing() -> None:
    """After a run with errors nothing is deleted, and that is not a safety refusal."""
    gate = DestructionGate(Limits(), tracked_files=100, owned_annotations=100)
    gate.defer(item_delete(1))
    gate.defer(annotation_removal(2, 1))
    release = gate.release(dry_run=False, had_errors=True)
    assert release.allowed and release.items == () and release.annotations == ()
    assert release.held is not None and "had errors" in release.held


def test_a_dry_run_releases_nothing() -> None:
    """The dry run checks the limits and releases no job."""
    gate = DestructionGate(Limits(), tracked_files=100, owned_annotations=100)
    gate.defer(item_delete(1))
    release = gate.release(dry_run=True, had_errors=False)
    assert release.allowed and release.items == ()


def test_only_jobs_the_gate_admitted_carry_its_ticket() -> None:
    """The executor's check: a job is admitted by this gate only, not by another one."""
    gate, other = DestructionGate(Limits(), tracked_files=10), DestructionGate(Limits())
    overwrite = Job(Action(ActionKind.OVERWRITE, RelPath("a"), "content changed"))
    assert not gate.admitted(overwrite)
    admitted = gate.admit_overwrite(overwrite)
    assert gate.admitted(admitted) and not other.admitted(admitted)
    gate.defer(item_delete(1))
    released = gate.release(dry_run=False, had_errors=False).items
    assert all(gate.admitted(job) for job in released)
    assert gate.counts.overwrites == 1
