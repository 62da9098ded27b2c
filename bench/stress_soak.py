"""Fault soak: one ``dlsync mirror`` through every gate fault at once.

Writes a tree of FILES files (1-8 KiB) with 1-3 boxes each in a parallel annotation tree and
starts ``dlsync gate serve --data DIR`` with, together, a RATE_LIMIT requests/s limit (429 with
Retry-After), 5 % 5xx answers, 2 % dropped connections of which half are dropped *after* the
request was applied, and 50 ms latency. The mirror runs with a pacer rate above the gate's limit
(``--rate``), so it must find the limit by itself. It must exit 0; if it does not, the exit code
and the failures are reported and the mirror is run again (up to RERUNS times) to show that a
rerun completes. Then the dataset is checked through the API (faults off): every file one item
with its fingerprint, every annotation exactly once.

Reported: duration, exit codes, the retries and 429s the client absorbed (``--json`` summary:
``requests_retried``, ``rate_limited``) and the gate's own counts (``/__gate__/stats``): 429s,
5xx, connections dropped before and after applying.

    .venv/bin/python bench/stress_soak.py [--files 5000] [--rate-limit 100] [--client-rate 150]
                                          [--seed 11]

The figures are printed as the table of the "Stress" section of docs/benchmarks.md
(copied there by hand, with the command line).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import common
import stress_common as sc

RUN_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class SoakSettings:
    """The tree size and the faults, all at once."""

    files: int = 5000
    rate_limit: float = 100.0
    fail_rate: float = 0.05
    drop_rate: float = 0.02
    drop_after_share: float = 0.5
    latency_ms: float = 50.0
    client_rate: float = 150.0
    reruns: int = 2
    seed: int = 11

    def gate_flags(self) -> tuple[str, ...]:
        return ("--rate-limit", f"{self.rate_limit:g}", "--fail-rate", f"{self.fail_rate:g}",
                "--drop-rate", f"{self.drop_rate:g}",
                "--drop-after-share", f"{self.drop_after_share:g}",
                "--latency-ms", f"{self.latency_ms:g}", "--seed", str(self.seed))


@dataclass
class SoakReport:
    """Every run's exit code, summary and time; the gate's counts; the final check."""

    settings: SoakSettings
    runs: list[sc.Finished] = field(default_factory=list)
    gate_stats: dict[str, Any] = field(default_factory=dict)
    verdict: sc.Verdict | None = None

    @property
    def first_exit(self) -> int | None:
        return self.runs[0].code if self.runs else None

    @property
    def ok(self) -> bool:
        return (bool(self.runs) and self.runs[-1].code == 0 and self.verdict is not None
                and not self.verdict.problems)

    def total(self, key: str) -> int:
        return sum(int(run.summary.get(key, 0)) for run in self.runs)


def soak(work: Path, settings: SoakSettings) -> SoakReport:
    """Run the soak in ``work``; the gate is stopped at the end."""
    tree = sc.write_tree(work / "tree", count=settings.files, seed=settings.seed)
    gate = sc.GateProcess(work / "gate", faults=settings.gate_flags())
    report = SoakReport(settings)
    state = work / "state" / "state.db"
    gate.start()
    try:
        command = sc.mirror_command(tree, gate, state,
                                    extra=("--rate", f"{settings.client_rate:g}"))
        env = sc.mirror_env(gate, work / "home")
        for _ in range(1 + settings.reruns):
            report.runs.append(sc.run_to_end(command, env, RUN_TIMEOUT_S))
            if report.runs[-1].code == 0:
                break
        report.gate_stats = asyncio.run(gate.stats())
        asyncio.run(gate.set_faults(rate_limit=None, fail_rate=0.0, drop_rate=0.0,
                                    latency_ms=0.0))
        report.verdict = asyncio.run(sc.verify(gate, tree))
    finally:
        gate.stop()
    return report


def statuses(stats: dict[str, Any]) -> dict[str, int]:
    """The gate's answers summed by status code."""
    found: dict[str, int] = {}
    for by_status in stats.get("by_route", {}).values():
        for status, n in by_status.items():
            found[str(status)] = found.get(str(status), 0) + int(n)
    return found


def describe(report: SoakReport, wall_s: float) -> tuple[str, list[str]]:
    """The report as a Markdown table and notes."""
    s, verdict, answers = report.settings, report.verdict, statuses(report.gate_stats)
    server_errors = sum(n for code, n in answers.items() if code.startswith("5"))
    rows = [("files / annotations", f"{s.files} / {verdict and verdict.annotations}"),
            ("exit codes of the runs", ", ".join(str(r.code) for r in report.runs)),
            ("mirror time (all runs)", f"{sum(r.wall_s for r in report.runs):.0f} s"),
            ("requests retried (client)", report.total("requests_retried")),
            ("429 absorbed (client)", report.total("rate_limited")),
            ("gate answers: 429 / 5xx / 2xx",
             f"{answers.get('429', 0)} / {server_errors} / "
             f"{sum(n for c, n in answers.items() if c.startswith('2'))}"),
            ("gate dropped connections: before / after applying",
             f"{report.gate_stats.get('dropped_before', '?')} / "
             f"{report.gate_stats.get('dropped_after', '?')}"),
            ("failures reported by the runs",
             ", ".join(str(r.summary.get("failure_count", "?")) for r in report.runs)),
            ("check through the API", verdict and verdict.line()),
            ("total wall time (tree, runs, check)", f"{wall_s:.0f} s")]
    notes = [f"gate: {s.rate_limit:g} requests/s limit, {s.fail_rate:.0%} 5xx, "
             f"{s.drop_rate:.0%} dropped ({s.drop_after_share:.0%} of them after applying), "
             f"{s.latency_ms:g} ms latency, seed {s.seed}; client pacer rate {s.client_rate:g}/s"]
    for run in report.runs:
        if run.code != 0:
            failures = run.summary.get("failures", [])[:10]
            notes.append(f"a run exited {run.code}: {failures or run.stderr[-1500:]}")
    if verdict and verdict.problems:
        notes += verdict.problems[:20]
    return common.table(["fault soak", "value"], rows), notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--rate-limit", type=float, default=100.0)
    parser.add_argument("--client-rate", type=float, default=150.0)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    settings = SoakSettings(files=args.files, rate_limit=args.rate_limit,
                            client_rate=args.client_rate, seed=args.seed)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dlsync-soak-") as work:
        report = soak(Path(work), settings)
    rows, notes = describe(report, time.perf_counter() - started)
    print(rows)
    for note in notes:
        print(note)
    raise SystemExit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
