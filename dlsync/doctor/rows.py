"""What ``dlsync doctor`` reports: one row per check, the report, its exit code and renderings.

A row states an assumption, what dlsync expects, what the remote showed, and a verdict. Probe rows
also name the gate switch (``dlsync.gate.behaviour.GateBehaviour``) that makes the gate behave the
other way, so a differing row points at the guess in ``docs/gate.md`` that needs changing.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any, TextIO

from dlsync import __version__

EXIT_OK = 0
EXIT_DIFFERS = 1
EXIT_AUTH = 3


class Verdict(enum.Enum):
    """Whether a row's assumption held on the remote."""

    HOLDS = "holds"
    DIFFERS = "differs"
    UNCHECKED = "unchecked"  # the check could not run (the reason is in ``seen``)

    @property
    def holds(self) -> bool | None:
        """True, False, or None when the check could not run."""
        return {Verdict.HOLDS: True, Verdict.DIFFERS: False}.get(self)


@dataclass(frozen=True, slots=True)
class Row:
    """One check: the assumption, what was expected, what was seen, and the verdict."""

    key: str
    assumption: str
    expected: str
    seen: str
    verdict: Verdict
    switch: str | None = None  # the GateBehaviour field that flips this guess in the gate

    @classmethod
    def judge(cls, key: str, texts: tuple[str, str, str], holds: bool) -> Row:
        """A row from (assumption, expected, seen) and whether it held."""
        verdict = Verdict.HOLDS if holds else Verdict.DIFFERS
        return cls(key, *texts, verdict=verdict)

    @property
    def holds(self) -> bool:
        """Whether the assumption held."""
        return self.verdict is Verdict.HOLDS

    def to_json(self) -> dict[str, Any]:
        """The row as one JSON object."""
        return {"key": self.key, "assumption": self.assumption, "expected": self.expected,
                "seen": self.seen, "holds": self.verdict.holds, "verdict": self.verdict.value,
                "gate_switch": self.switch}


@dataclass(slots=True)
class Report:
    """Every row of one doctor run and what the run was about."""

    remote: str
    project: str | None = None
    probe: bool = False
    rows: list[Row] = field(default_factory=list)
    auth_failed: bool = False
    scratch_dataset: str | None = None

    def add(self, row: Row) -> Row:
        """Append ``row`` and return it."""
        self.rows.append(row)
        return row

    @property
    def exit_code(self) -> int:
        """3 when it cannot authenticate, 1 when a row does not hold, 0 otherwise."""
        if self.auth_failed:
            return EXIT_AUTH
        return EXIT_OK if all(row.holds for row in self.rows) else EXIT_DIFFERS

    def to_json(self) -> dict[str, Any]:
        """The report as one JSON document (what a user attaches to an issue)."""
        return {"dlsync_version": __version__, "remote": self.remote, "project": self.project,
                "probe": self.probe, "scratch_dataset": self.scratch_dataset,
                "exit_code": self.exit_code, "rows": [row.to_json() for row in self.rows]}


_MARKS = {Verdict.HOLDS: "ok", Verdict.DIFFERS: "DIFFERS", Verdict.UNCHECKED: "UNCHECKED"}
_HEADERS = ("", "ASSUMPTION", "EXPECTED", "SEEN")
_WIDEST = (9, 52, 42, 0)  # column caps; a longer cell pushes the rest of its line right


def write_report(report: Report, out: TextIO, *, as_json: bool) -> None:
    """Print ``report`` as a table (or one JSON document) to ``out``."""
    if as_json:
        out.write(json.dumps(report.to_json(), indent=2) + "\n")
        return
    where = f"{report.remote}" + (f", project {report.project}" if report.project else "")
    out.write(f"dlsync doctor: {where}\n")
    cells = [_HEADERS] + [(_MARKS[r.verdict], r.assumption, r.expected, r.seen)
                          for r in report.rows]
    widths = [min(cap, max(len(c[i]) for c in cells)) if cap else 0
              for i, cap in enumerate(_WIDEST)]
    for line in cells:
        text = "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        out.write(text.rstrip() + "\n")
    failing = [r for r in report.rows if not r.holds]
    if report.auth_failed:
        out.write("cannot authenticate: exit 3\n")
    elif failing:
        out.write(f"{len(failing)} of {len(report.rows)} rows do not hold: exit 1\n")
    else:
        out.write(f"all {len(report.rows)} rows hold\n")
