"""The plan of one cycle: its actions, their counts, the delete limits, and dry-run rendering.

Deletes are held back and come last, after every other action. Counts and byte totals are kept as
actions are added, so a summary never walks the plan again. Rendering writes one line (or one
JSON object) per action to a stream, so a plan of a million actions is never formatted whole:

    + a/b.jpg  (new file, 12.3 KiB)
    * a/c.jpg  (content changed, 1.0 MiB)
    > old/d.jpg -> new/d.jpg  (moved from old/d.jpg)
    - a/e.jpg  (deleted locally)
    * a/h.jpg  (annotations +2 -1)
    - a/h.jpg  (1 annotation removed from the annotation file)
    = a/f.jpg  (remote item already has this content)
    + label car  (missing from the dataset's ontology)
    + task review: 3 items added  (task created with them; 3 of this plan)
    ! a/g.jpg  (changed here and on the platform since the last sync; nothing written)
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from dlsync.model import Action, ActionKind, printable
from dlsync.units import format_size

if TYPE_CHECKING:
    from dlsync.push.labels import LabelLine

TRANSFER_KINDS = frozenset({ActionKind.UPLOAD, ActionKind.OVERWRITE, ActionKind.REUPLOAD})


class Plan:
    """The actions of one cycle, in the order the executor must run them."""

    def __init__(self) -> None:
        self._actions: list[Action] = []
        self._deletes: list[Action] = []
        self._counts: Counter[ActionKind] = Counter()
        self.transfer_bytes = 0
        self.annotation_deletes = 0
        self.kept_annotations = 0     # items whose gone annotation file's set stays
        self.excluded_kept = 0        # remote items of excluded paths, not deleted
        self.labels: list[LabelLine] = []   # labels added to the ontology before the posts
        self.task: TaskLine | None = None   # what the pair's task would gain

    def add(self, action: Action) -> None:
        """Append ``action``; a delete is queued behind every other action."""
        last = action.kind in (ActionKind.DELETE, ActionKind.DELETE_ANNOTATIONS)
        (self._deletes if last else self._actions).append(action)
        self._counts[action.kind] += 1
        if action.kind is ActionKind.DELETE_ANNOTATIONS:
            self.annotation_deletes += action.removed
        if action.kind in TRANSFER_KINDS:
            self.transfer_bytes += action.size

    def __iter__(self) -> Iterator[Action]:
        """Every action: the others in the order added, then the deletes."""
        yield from self._actions
        yield from self._deletes

    def __len__(self) -> int:
        return len(self._actions) + len(self._deletes)

    def without_deletes(self) -> Iterator[Action]:
        """Every action except the deletes (what runs when the deletes are refused)."""
        return iter(self._actions)

    def count(self, kind: ActionKind) -> int:
        return self._counts[kind]

    @property
    def deletes(self) -> int:
        return self._counts[ActionKind.DELETE]

    def counts(self) -> dict[str, int]:
        """Actions per kind, for every kind that occurs, in ``ActionKind`` order."""
        return {kind.value: self._counts[kind] for kind in ActionKind if self._counts[kind]}


@dataclass(frozen=True, slots=True)
class TaskLine:
    """What a run would add to the pair's task: the items this plan uploads or adopts, the
    items earlier runs queued and never saw added, and (``--task-backfill``) synced items that
    are in no task."""

    name: str
    exists: bool
    planned: int
    queued: int = 0
    backfill: int = 0

    @property
    def items(self) -> int:
        """Every item the run would add."""
        return self.planned + self.queued + self.backfill

    def text(self) -> str:
        """The plan line."""
        parts = [f"{self.planned} of this plan"]
        if self.queued:
            parts.append(f"{self.queued} queued by earlier runs")
        if self.backfill:
            parts.append(f"{self.backfill} synced items in no task")
        made = "existing task" if self.exists else "task created with them"
        return f"+ task {printable(self.name)}: {self.items} items added  " \
            f"({made}; {', '.join(parts)})"

    def json(self) -> dict[str, Any]:
        """The plan line as a JSON object."""
        return {"kind": "task", "name": self.name, "items": self.items,
                "created": not self.exists, "planned": self.planned, "queued": self.queued,
                "backfill": self.backfill}


@dataclass(frozen=True, slots=True)
class LimitVerdict:
    """Whether the plan's deletes may run; ``reason`` says why not."""

    allowed: bool
    reason: str = ""


def action_line(action: Action) -> str:
    """One rclone-style line for ``action``."""
    target = f"{printable(action.source or '')} -> {printable(action.path)}" \
        if action.kind is ActionKind.MOVE else printable(action.path)
    detail = action.reason
    if action.kind is ActionKind.ANNOTATE and (action.added or action.removed):
        detail = f"annotations +{action.added} -{action.removed}"
    elif action.kind in TRANSFER_KINDS:
        detail = f"{detail}, {format_size(action.size)}"
        if action.added or action.removed:
            detail += f", annotations +{action.added} -{action.removed}"
    return f"{action.kind.marker} {target}  ({detail})"


def render_text(plan: Plan, out: TextIO, limits: LimitVerdict | None = None) -> None:
    """Write one line per action, then the summary block."""
    for label in plan.labels:
        out.write(f"+ label {printable(label.path)}  ({label.reason})\n")
    if plan.task is not None and plan.task.items:
        out.write(plan.task.text() + "\n")
    for action in plan:
        out.write(action_line(action) + "\n")
    for line in summary_lines(plan, limits):
        out.write(line + "\n")


def summary_lines(plan: Plan, limits: LimitVerdict | None = None) -> list[str]:
    """The summary block: totals, then one line per kind that occurs."""
    lines = [f"{len(plan)} actions, {format_size(plan.transfer_bytes)} to transfer"]
    lines += [f"  {kind:<20}{count:>10}" for kind, count in plan.counts().items()]
    if plan.labels:
        lines.append(f"  {'labels added':<20}{len(plan.labels):>10}")
    if plan.task is not None and plan.task.items:
        lines.append(f"  {'task items added':<20}{plan.task.items:>10}")
    if plan.annotation_deletes:
        lines.append(f"  {'annotations deleted':<20}{plan.annotation_deletes:>10}")
    if plan.kept_annotations:
        lines.append(f"{plan.kept_annotations} items keep their platform annotations: their "
                     "annotation file is gone and deletes are off (--delete removes them)")
    if plan.excluded_kept:
        lines.append(f"{plan.excluded_kept} remote items of excluded paths are kept "
                     "(--delete-excluded removes them)")
    if limits is not None and not limits.allowed:
        lines.append(f"deletes refused: {limits.reason}")
    return lines


def action_json(action: Action) -> dict[str, Any]:
    """The JSON object of one action; absent optional fields are left out."""
    document: dict[str, Any] = {"kind": action.kind.value, "path": action.path,
                                "reason": action.reason, "size": action.size}
    for key, value in (("item_id", action.item_id), ("source", action.source),
                       ("sha256", action.sha256)):
        if value is not None:
            document[key] = value
    if action.added or action.removed:
        document["annotations"] = {"added": action.added, "removed": action.removed}
    return document


def summary_json(plan: Plan, limits: LimitVerdict | None = None) -> dict[str, Any]:
    summary: dict[str, Any] = {"actions": len(plan), "transfer_bytes": plan.transfer_bytes,
                               "counts": plan.counts(),
                               "annotation_deletes": plan.annotation_deletes,
                               "annotations_kept": plan.kept_annotations,
                               "excluded_kept": plan.excluded_kept,
                               "labels_added": len(plan.labels),
                               "task_items_added": plan.task.items if plan.task else 0}
    if limits is not None:
        summary["deletes_allowed"] = limits.allowed
        if not limits.allowed:
            summary["deletes_refused"] = limits.reason
    return summary


def render_json(plan: Plan, out: TextIO, limits: LimitVerdict | None = None) -> None:
    """Write ``{"actions": [...], "summary": {...}}``, one action per line."""
    out.write('{"actions": [')
    separator = "\n"
    for label in plan.labels:
        line = {"kind": "label", "path": label.path, "reason": label.reason,
                "shared_with": label.shared}
        out.write(separator + json.dumps(line, ensure_ascii=False))
        separator = ",\n"
    if plan.task is not None and plan.task.items:
        out.write(separator + json.dumps(plan.task.json(), ensure_ascii=False))
        separator = ",\n"
    for action in plan:
        out.write(separator + json.dumps(action_json(action), ensure_ascii=False))
        separator = ",\n"
    out.write('\n], "summary": ' + json.dumps(summary_json(plan, limits)) + "}\n")
