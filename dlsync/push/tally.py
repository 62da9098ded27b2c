"""Counting a run as it goes: actions by kind and outcome, bytes, failures with their reasons.

The tally is what the summary, the exit code, ``dlsync status`` and the metrics read; it holds
counts and at most ``MAX_FAILURES_KEPT`` failure lines, so it stays small on any tree.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from dlsync.model import ActionKind
from dlsync.remote.limiter import LimitStats

MAX_FAILURES_KEPT = 200


class Outcome:
    """How one action ended."""

    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"     # vanished or changed while read: retried next run, not an error
    EXCLUDED = "excluded"   # left out by policy (symlink not followed, special file): by design
    CONFLICT = "conflict"


@dataclass(frozen=True, slots=True)
class Failure:
    """One path that did not sync, and why."""

    path: str
    action: str
    reason: str


@dataclass(slots=True)
class Tally:
    """Running totals of one run."""

    started: float = field(default_factory=time.monotonic)
    planned: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    bytes_sent: int = 0
    bytes_planned: int = 0
    annotations_posted: int = 0
    annotations_deleted: int = 0
    failures: list[Failure] = field(default_factory=list)
    failure_count: int = 0
    conflicts: int = 0
    deletes_refused: str | None = None
    annotations_kept: int = 0        # items whose gone annotation file's set stayed
    excluded_kept: int = 0           # remote items of excluded paths, not deleted
    backup_dir: str | None = None    # where this run's deleted items were moved
    labels_added: int = 0            # labels added to the dataset's ontology
    task_items_added: int = 0        # items added to the pair's task
    concurrency: LimitStats | None = None  # where the pacer's adaptive limit ended up

    def plan(self, kind: ActionKind, size: int = 0) -> None:
        """Count an action as planned."""
        self.planned[kind.value] += 1
        self.bytes_planned += size

    def done(self, kind: ActionKind, *, sent: int = 0) -> None:
        """Count an action that succeeded, with the bytes it uploaded."""
        self.outcomes[(kind.value, Outcome.DONE)] += 1
        self.bytes_sent += sent

    def skipped(self, kind: ActionKind) -> None:
        """Count an action passed over for this run (the file is retried next run)."""
        self.outcomes[(kind.value, Outcome.SKIPPED)] += 1

    def excluded(self, kind: ActionKind) -> None:
        """Count a path left out by policy; it never changes the exit code."""
        self.outcomes[(kind.value, Outcome.EXCLUDED)] += 1

    def conflict(self, kind: ActionKind, path: str, reason: str) -> None:
        """Count a conflict: reported, nothing overwritten."""
        self.outcomes[(kind.value, Outcome.CONFLICT)] += 1
        self.conflicts += 1
        self._keep(Failure(path, "conflict", reason))

    def failed(self, kind: ActionKind, path: str, reason: str) -> None:
        """Count a failed action and keep its reason."""
        self.outcomes[(kind.value, Outcome.FAILED)] += 1
        self.failure_count += 1
        self._keep(Failure(path, kind.value, reason))

    def _keep(self, failure: Failure) -> None:
        if len(self.failures) < MAX_FAILURES_KEPT:
            self.failures.append(failure)

    @property
    def has_errors(self) -> bool:
        """True when any action failed or conflicted."""
        return self.failure_count > 0 or self.conflicts > 0

    @property
    def finished(self) -> int:
        """How many actions have ended, whatever their outcome."""
        return sum(self.outcomes.values())

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.started

    def counts(self) -> dict[str, int]:
        """Outcomes as ``{"upload.done": n, ...}``, for state and JSON output."""
        return {f"{kind}.{outcome}": n for (kind, outcome), n in sorted(self.outcomes.items())}

    def as_json(self) -> dict[str, Any]:
        """The whole tally as JSON-able data."""
        return {
            "planned": dict(sorted(self.planned.items())),
            "outcomes": self.counts(),
            "bytes_sent": self.bytes_sent,
            "annotations_posted": self.annotations_posted,
            "annotations_deleted": self.annotations_deleted,
            "failures": [{"path": f.path, "action": f.action, "reason": f.reason}
                         for f in self.failures],
            "failure_count": self.failure_count,
            "conflicts": self.conflicts,
            "deletes_refused": self.deletes_refused,
            "annotations_kept": self.annotations_kept,
            "excluded_kept": self.excluded_kept,
            "backup_dir": self.backup_dir,
            "labels_added": self.labels_added,
            "task_items_added": self.task_items_added,
            **({"concurrency": {"settled": self.concurrency.limit, "cap": self.concurrency.cap,
                                "highest": self.concurrency.highest}}
               if self.concurrency is not None else {}),
            "duration_s": round(self.elapsed(), 3),
        }
