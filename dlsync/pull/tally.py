"""Running totals of a pull, and its end-of-run summary."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, TextIO

MAX_PROBLEMS_KEPT = 50


@dataclass(frozen=True, slots=True)
class Problem:
    """One item a pull could not settle: a failure or a conflict, with its reason."""

    path: str
    kind: str            # "failed" or "conflict"
    reason: str


@dataclass
class PullTally:
    """What a pull did, by outcome (``written``, ``downloaded``, ``conflict``, ``failed``...)."""

    outcomes: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    bytes_received: int = 0
    downloaded: int = 0
    started: float = field(default_factory=time.monotonic)

    def count(self, outcome: str) -> None:
        """Count one item ending with ``outcome``."""
        self.outcomes[outcome] += 1

    def count_download(self) -> None:
        """Count one item file downloaded, verified and durable in place."""
        self.downloaded += 1

    def conflict(self, path: str, reason: str) -> None:
        """Count a conflict: both versions kept, reported until resolved."""
        self.outcomes["conflict"] += 1
        self._keep(Problem(path, "conflict", reason))

    def failed(self, path: str, reason: str) -> None:
        """Count an item that failed; it is retried by the next pull."""
        self.outcomes["failed"] += 1
        self._keep(Problem(path, "failed", reason))

    def _keep(self, problem: Problem) -> None:
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append(problem)

    @property
    def conflicts(self) -> int:
        return self.outcomes["conflict"]

    @property
    def failures(self) -> int:
        return self.outcomes["failed"]

    @property
    def items(self) -> int:
        """Items looked at."""
        return sum(self.outcomes.values())

    def elapsed(self) -> float:
        """Seconds since the pull started."""
        return time.monotonic() - self.started

    def as_json(self) -> dict[str, Any]:
        """The tally as JSON-able data."""
        return {"outcomes": dict(sorted(self.outcomes.items())), "items": self.items,
                "conflicts": self.conflicts, "failures": self.failures,
                "downloaded": self.downloaded, "bytes_received": self.bytes_received,
                "problems": [{"path": p.path, "kind": p.kind, "reason": p.reason}
                             for p in self.problems],
                "duration_s": round(self.elapsed(), 3)}


def render_pull_summary(tally: PullTally, out: TextIO, extra: dict[str, Any], *,
                        as_json: bool = False) -> None:
    """Write the summary of a pull as text lines or one JSON document."""
    if as_json:
        out.write(json.dumps({**extra, **tally.as_json()}, ensure_ascii=False) + "\n")
        return
    done = [f"{n} {outcome}" for outcome, n in sorted(tally.outcomes.items())
            if outcome not in ("failed", "conflict")]
    out.write(f"dlsync pull: {', '.join(done) or 'nothing to do'} in {tally.elapsed():.1f} s "
              f"({tally.downloaded} items downloaded, {tally.bytes_received} bytes)\n")
    if tally.failures or tally.conflicts:
        out.write(f"  {tally.failures} failed (retried next pull), {tally.conflicts} in "
                  "conflict (reported until resolved):\n")
        for problem in tally.problems:
            out.write(f"  ! {problem.path}: {problem.reason}\n")
