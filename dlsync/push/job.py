"""A push job (one planned action with what the planner knew of its path) and where it goes.

``preview_removal`` is the net annotation removal a planned job will hand the destruction gate,
for the dry run; ``removal_job`` builds it at run time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from dlsync.local.labelformat import LabelReader
from dlsync.model import Action, ActionKind, LocalEntry, RemoteItem, StateRecord
from dlsync.push.annotate import AnnotationWork, Owned
from dlsync.push.tally import Tally
from dlsync.state.writer import StateWriter


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
    content: bytes | None = field(default=None, repr=False)
    """An upload's file bytes as the planner hashed them (small files only): sent as they are,
    so the executor neither reads nor stats the file again."""

    @property
    def path(self) -> str:
        return self.action.path

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
    labels: LabelReader | None = None   # YOLO, VOC: how label files are read (None: JSON)


@dataclass(frozen=True, slots=True)
class Sinks:
    """Where a run's outcomes go: state writes, the tally, and the progress display."""

    writer: StateWriter
    tally: Tally
    progress: Callable[[Job], None] = lambda job: None


def removal_job(job: Job, item_id: str, removals: Owned, work: AnnotationWork) -> Job:
    """The net removal of ``removals`` from ``job``'s item, for the gate to hold."""
    file_gone = job.local is not None and job.local.annotation_path is None
    action = Action(ActionKind.DELETE_ANNOTATIONS, job.action.path,
                    removal_reason(len(removals), file_gone), item_id=item_id,
                    sha256=job.action.sha256, removed=len(removals))
    return Job(action, local=job.local, state=job.state, remote=job.remote,
               annotations=replace(work, file_gone=file_gone), removal=removals)


def preview_removal(job: Job) -> Job | None:
    """The net-removal job a planned ``job`` will hand the gate, when the planner could tell
    (what dlsync owns on the item is in state); for the dry run and its limits."""
    work = job.annotations
    if work is None or work.diff is None or not work.diff.remove or work.keeps_gone_set:
        return None
    count = len(work.diff.remove)
    file_gone = work.file_gone
    action = Action(ActionKind.DELETE_ANNOTATIONS, job.action.path,
                    removal_reason(count, file_gone), item_id=job.action.item_id,
                    sha256=job.action.sha256, removed=count)
    return Job(action, local=job.local, state=job.state, remote=job.remote, annotations=work,
               removal=work.diff.remove)


def keeps_gone_set(job: Job) -> bool:
    """True when ``job``'s annotation file is gone and deletes are off: the set stays."""
    return job.annotations is not None and job.annotations.keeps_gone_set


def removal_reason(count: int, file_gone: bool) -> str:
    noun = "annotation" if count == 1 else "annotations"
    if file_gone:
        return f"annotation file gone: {count} {noun} dlsync posted"
    return f"{count} {noun} removed from the annotation file"
