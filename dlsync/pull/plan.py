"""What a pull does with each item, decided purely, and the plan a dry run prints.

The puller gathers the facts of one item (its state record, whether its file is on disk, its
annotation file and that file's set hash, the platform's set) and ``step_for`` turns them into
one ``PullStep``: the same facts always give the same step, with no I/O. The executor carries the
step out; a dry run only collects the steps into a ``PullPlan`` and prints it, rclone-style:

    + a/b.jpg  (new locally: downloaded)
    + a/c.jpg  (changed on the platform: annotations/a/c.json created)
    * a/d.jpg  (changed on the platform: annotations/a/d.json replaced)
    ! a/e.jpg  (changed here and on the platform since the last sync: both kept)

Replacing a local annotation file is the pull's destructive step: it passes the destruction
gate (counted, listed, logged) like the push's deletes and overwrites.
"""

from __future__ import annotations

import enum
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from dlsync.local.layout import LayoutKind
from dlsync.model import FileStatus, StateRecord, printable
from dlsync.pull.rules import Decision, PullVerdict


class PullKind(enum.StrEnum):
    """What happens to one item."""

    DOWNLOAD = "download"         # the item's file is fetched (pull --items), then annotations
    CREATE = "create"             # a new annotation file holds the platform's set
    REPLACE = "replace"           # an existing annotation file is replaced (destructive)
    RECORD = "record"             # the local file already holds the platform's set
    KEEP_LOCAL = "keep-local"     # both changed; the local file wins (conflict = local)
    CONFLICT = "conflict"         # both changed; the platform's version is written beside
    RESOLVE = "resolve"           # a conflict the user settled is marked synced
    UNCHANGED = "unchanged"
    NOT_SYNCED = "not-synced"     # the item is not (yet) synced by a push: left to it
    NOT_LOCAL = "not-local"       # the item's file is not here and --items is off
    LINK = "link"                 # a link item: its content lives at a URL; not downloaded
    NOT_REVIEWED = "not-reviewed" # pull_status is set and the item has none of those statuses

    @property
    def marker(self) -> str:
        return _MARKERS.get(self, "=")

    @property
    def outcome(self) -> str:
        """The name the tally counts the step under once it is done."""
        return _OUTCOMES.get(self, self.value)

    @property
    def changes_files(self) -> bool:
        """True for the steps that write a local file."""
        return self in (PullKind.DOWNLOAD, PullKind.CREATE, PullKind.REPLACE,
                        PullKind.CONFLICT)


_MARKERS = {PullKind.DOWNLOAD: "+", PullKind.CREATE: "+", PullKind.REPLACE: "*",
            PullKind.CONFLICT: "!", PullKind.LINK: "~"}
_OUTCOMES = {PullKind.DOWNLOAD: "downloaded", PullKind.CREATE: "written",
             PullKind.REPLACE: "written", PullKind.RECORD: "recorded",
             PullKind.KEEP_LOCAL: "kept-local", PullKind.RESOLVE: "resolved"}
_QUIET = frozenset({PullKind.UNCHANGED, PullKind.NOT_SYNCED, PullKind.NOT_LOCAL,
                    PullKind.NOT_REVIEWED})
"""Steps a plan counts but does not list."""


@dataclass(frozen=True, slots=True)
class ItemFacts:
    """What the puller found out about one item before deciding."""

    path: str
    state: StateRecord | None
    media_exists: bool
    layout: LayoutKind
    items: bool                        # pull --items: fetch files missing locally
    decision: Decision | None = None   # the annotation rules' verdict (None: not asked)
    current: Path | None = None        # the item's annotation file, when there is one
    conflict_copy_gone: bool = False   # a conflict the user settled by removing the copy
    link: str | None = None            # where a link item's content lives (its linkInfo ref)
    reviewed: bool = True              # the review gate (pull_status) lets the item through


@dataclass(frozen=True, slots=True)
class PullStep:
    """The decision for one item, with the reason and the file it writes."""

    kind: PullKind
    path: str
    reason: str
    file: Path | None = None


def needs_annotations(facts: ItemFacts) -> bool:
    """True when the annotation rules must be asked (the item is synced and has a layout)."""
    return step_without_annotations(facts) is None


def step_without_annotations(facts: ItemFacts) -> PullStep | None:
    """The step when the annotation sets do not matter; ``None`` when they decide."""
    state = facts.state
    if state is None and facts.link is not None:
        return PullStep(PullKind.LINK, facts.path,
                        f"link item, its content is at {facts.link}; not downloaded")
    if state is None and facts.items and not facts.media_exists:
        return PullStep(PullKind.DOWNLOAD, facts.path, "new locally: downloaded")
    if state is None:
        kind = PullKind.NOT_SYNCED if facts.media_exists else PullKind.NOT_LOCAL
        return PullStep(kind, facts.path, "not synced by a push yet")
    if state.status not in (FileStatus.SYNCED, FileStatus.CONFLICT):
        return PullStep(PullKind.NOT_SYNCED, facts.path, "not synced by a push yet")
    if not facts.reviewed:
        return PullStep(PullKind.NOT_REVIEWED, facts.path,
                        "not in a reviewed status (pull_status) in the task")
    if facts.layout is LayoutKind.NONE:
        return PullStep(PullKind.UNCHANGED, facts.path, "no annotation layout")
    return None


def step_for(facts: ItemFacts, target: Path | None) -> PullStep:
    """The step for an item whose annotation sets were compared (``facts.decision``);
    ``target`` is where a new annotation file would go."""
    quick = step_without_annotations(facts)
    if quick is not None:
        return quick
    assert facts.decision is not None and facts.state is not None
    verdict, reason = facts.decision.verdict, facts.decision.reason
    in_conflict = facts.state.status is FileStatus.CONFLICT
    if in_conflict and verdict is PullVerdict.CONFLICT and facts.conflict_copy_gone:
        verdict, reason = PullVerdict.KEEP_LOCAL, "the conflict copy was removed: local wins"
    if verdict is PullVerdict.NOTHING:
        kind = PullKind.RESOLVE if in_conflict else PullKind.UNCHANGED
        return PullStep(kind, facts.path, reason)
    if verdict is PullVerdict.RECORD:
        return PullStep(PullKind.RECORD, facts.path, reason, facts.current)
    if verdict is PullVerdict.KEEP_LOCAL:
        return PullStep(PullKind.KEEP_LOCAL, facts.path, reason, facts.current)
    if verdict is PullVerdict.CONFLICT:
        return PullStep(PullKind.CONFLICT, facts.path, f"{reason}: both kept", facts.current)
    if facts.current is not None:
        return PullStep(PullKind.REPLACE, facts.path,
                        f"{reason}: {facts.current.name} replaced", facts.current)
    return PullStep(PullKind.CREATE, facts.path,
                    f"{reason}: {target.name if target else 'annotation file'} created", target)


class PullPlan:
    """The steps of a dry run: the listed ones in order, and counts of every kind."""

    def __init__(self) -> None:
        self._steps: list[PullStep] = []
        self.counts: Counter[str] = Counter()

    def add(self, step: PullStep) -> None:
        self.counts[step.kind.value] += 1
        if step.kind not in _QUIET:
            self._steps.append(step)

    def __iter__(self) -> Iterator[PullStep]:
        return iter(self._steps)

    @property
    def replacements(self) -> int:
        """Local annotation files the pull would replace (its destructive steps)."""
        return self.counts[PullKind.REPLACE.value]


def step_line(step: PullStep) -> str:
    return f"{step.kind.marker} {printable(step.path)}  ({printable(step.reason)})"


def render_plan_text(plan: PullPlan, out: TextIO) -> None:
    """One line per listed step, then the counts."""
    for step in plan:
        out.write(step_line(step) + "\n")
    listed = sum(1 for _ in plan)
    out.write(f"{listed} actions ({plan.replacements} local files replaced); "
              + (", ".join(f"{n} {kind}" for kind, n in sorted(plan.counts.items()))
                 or "nothing to do") + "\n")


def render_plan_json(plan: PullPlan, out: TextIO) -> None:
    """``{"actions": [...], "summary": {...}}``, one action per line."""
    out.write('{"actions": [')
    separator = "\n"
    for step in plan:
        document: dict[str, Any] = {"kind": step.kind.value, "path": step.path,
                                    "reason": step.reason}
        if step.file is not None:
            document["file"] = str(step.file)
        out.write(separator + json.dumps(document, ensure_ascii=False))
        separator = ",\n"
    summary = {"counts": dict(sorted(plan.counts.items())), "replaced": plan.replacements}
    out.write('\n], "summary": ' + json.dumps(summary) + "}\n")
