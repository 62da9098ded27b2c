"""Crash loop: ``dlsync mirror`` killed with SIGKILL at random moments, and the gate killed too.

Writes a tree of FILES files (1-8 KiB) with 1-3 boxes each in a parallel annotation tree, starts
``dlsync gate serve --data DIR --latency-ms LATENCY`` as a subprocess and then, with a seeded
random generator:

- starts ``dlsync mirror`` and SIGKILLs it after a random delay, KILLS times (a run that ends
  on its own before its kill is counted as such);
- GATE_KILLS of those rounds SIGKILL the *gate* instead while the mirror is running, let the
  mirror go on against the dead gate for a moment, SIGKILL the mirror, read from the state
  database which items and annotations it recorded as acknowledged, restart the gate on the
  same data directory and port (so the pair, keyed by the remote URL, stays the same), and
  check that every one of them is still there;
- finally runs the mirror to its end (it must exit 0) and checks through the API that every file
  is one item with its size and fingerprint, every item's annotations equal its local file's
  (multisets of canonical hashes), and nothing lies outside the tree.

    .venv/bin/python bench/stress_crash.py [--files 3000] [--kills 20] [--gate-kills 2]
                                           [--latency-ms 20] [--min-delay 1] [--max-delay 8]
                                           [--seed 7]

The figures are printed as the table of the "Stress" section of docs/benchmarks.md
(copied there by hand, with the command line).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import common
import stress_common as sc

FINAL_TIMEOUT_S = 900.0
RECORD_WAIT_S = 30.0
"""How long a gate kill waits, past its delay, for state to record something."""


@dataclass(frozen=True)
class CrashSettings:
    """How hard the loop hits: tree size, kills, gate kills, delays, latency, seed."""

    files: int = 3000
    kills: int = 20
    gate_kills: int = 2
    latency_ms: float = 20.0
    min_delay_s: float = 1.0
    max_delay_s: float = 8.0
    seed: int = 7


@dataclass
class CrashReport:
    """What happened: rounds, how each ended, the final run and the check."""

    settings: CrashSettings
    mirror_kills: int = 0
    gate_kills: int = 0
    ended_before_kill: list[int] = field(default_factory=list)
    acknowledged_checked: int = 0
    lost_after_gate_kill: list[str] = field(default_factory=list)
    final: sc.Finished | None = None
    verdict: sc.Verdict | None = None
    runs: int = 0
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return (self.final is not None and self.final.code == 0 and self.verdict is not None
                and not self.verdict.problems and not self.lost_after_gate_kill)


class CrashLoop:
    """One crash loop over one tree, gate and state database."""

    def __init__(self, work: Path, settings: CrashSettings) -> None:
        self.settings = settings
        self.rng = random.Random(settings.seed)
        self.tree = sc.write_tree(work / "tree", count=settings.files, seed=settings.seed)
        self.state = work / "state" / "state.db"
        self.gate = sc.GateProcess(work / "gate",
                                   faults=("--latency-ms", str(settings.latency_ms)))
        self.home = work / "home"
        self.report = CrashReport(settings)

    def run(self) -> CrashReport:
        """Kill, restart, finish, check; the gate is stopped at the end."""
        started = time.perf_counter()
        self.gate.start()
        try:
            gate_rounds = set(self.rng.sample(range(1, self.settings.kills),
                                              self.settings.gate_kills))
            for round_no in range(self.settings.kills):
                if round_no in gate_rounds:
                    self._gate_kill_round()
                else:
                    self._mirror_kill_round(round_no)
            self.report.final = self._start_to_end()
            asyncio.run(self.gate.set_faults(latency_ms=0))
            self.report.verdict = asyncio.run(sc.verify(self.gate, self.tree))
        finally:
            self.gate.stop()
        self.report.duration_s = time.perf_counter() - started
        return self.report

    def _spawn(self) -> subprocess.Popen[str]:
        self.report.runs += 1
        return subprocess.Popen(sc.mirror_command(self.tree, self.gate, self.state),
                                env=sc.mirror_env(self.gate, self.home), text=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _delay(self) -> float:
        return self.rng.uniform(self.settings.min_delay_s, self.settings.max_delay_s)

    def _mirror_kill_round(self, round_no: int) -> None:
        child = self._spawn()
        try:
            child.wait(timeout=self._delay())
            self.report.ended_before_kill.append(round_no)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            self.report.mirror_kills += 1

    def _gate_kill_round(self) -> None:
        """Kill the gate under a running mirror; everything state recorded must survive.

        The kill waits its random delay and then, on a machine slow enough that state holds
        nothing yet, until it holds something (or the mirror ends): a kill before anything was
        recorded would check nothing."""
        child = self._spawn()
        time.sleep(self._delay())
        deadline = time.monotonic() + RECORD_WAIT_S
        while child.poll() is None and time.monotonic() < deadline and \
                not sc.recorded_in_state(self.state).items:
            time.sleep(0.05)
        self.gate.kill()
        self.report.gate_kills += 1
        time.sleep(self.rng.uniform(0.2, 1.0))  # the mirror meets refused connections
        child.kill()
        child.wait()
        recorded = sc.recorded_in_state(self.state)
        self.gate.start()
        asyncio.run(self._check_acknowledged(recorded))

    async def _check_acknowledged(self, recorded: sc.Recorded) -> None:
        await self.gate.set_faults(latency_ms=0)
        try:
            verdict = await sc.verify(self.gate, self.tree)
        finally:
            await self.gate.set_faults(latency_ms=self.settings.latency_ms)
        self.report.acknowledged_checked += len(recorded.items) + len(recorded.annotations)
        lost = [f"item {i}" for i in recorded.items - verdict.item_ids]
        lost += [f"annotation {a}" for a in recorded.annotations - verdict.annotation_ids]
        self.report.lost_after_gate_kill.extend(lost)

    def _start_to_end(self) -> sc.Finished:
        self.report.runs += 1
        return sc.run_to_end(sc.mirror_command(self.tree, self.gate, self.state),
                             sc.mirror_env(self.gate, self.home), FINAL_TIMEOUT_S)


def crash_loop(work: Path, settings: CrashSettings) -> CrashReport:
    """Run one crash loop in ``work``."""
    return CrashLoop(work, settings).run()


def describe(report: CrashReport) -> tuple[str, list[str]]:
    """The report as a Markdown table and notes."""
    s, final, verdict = report.settings, report.final, report.verdict
    rows = [("files / annotations", f"{s.files} / {verdict and verdict.annotations}"),
            ("mirror SIGKILLs", report.mirror_kills),
            ("rounds that finished before their kill", len(report.ended_before_kill)),
            ("gate SIGKILLs (restarted on the same data and port)", report.gate_kills),
            ("acknowledged items + annotations checked after gate restarts",
             report.acknowledged_checked),
            ("lost after a gate restart", len(report.lost_after_gate_kill)),
            ("mirror runs in all", report.runs),
            ("final run exit code", final and final.code),
            ("final run: uploads / annotations posted",
             final and f"{final.summary.get('outcomes', {}).get('upload.done', 0)} / "
                       f"{final.summary.get('annotations_posted', 0)}"),
            ("check through the API", verdict and verdict.line()),
            ("duration", f"{report.duration_s:.0f} s")]
    notes = [f"latency {s.latency_ms:g} ms per request, kill delays uniform in "
             f"[{s.min_delay_s:g}, {s.max_delay_s:g}] s, seed {s.seed}"]
    if verdict and verdict.problems:
        notes += verdict.problems[:20]
    if report.lost_after_gate_kill:
        notes += report.lost_after_gate_kill[:20]
    if final and final.code != 0:
        notes.append(f"final run stderr: {final.stderr[-1500:]}")
    return common.table(["crash loop", "value"], rows), notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--gate-kills", type=int, default=2)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--min-delay", type=float, default=1.0)
    parser.add_argument("--max-delay", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    settings = CrashSettings(files=args.files, kills=args.kills, gate_kills=args.gate_kills,
                             latency_ms=args.latency_ms, min_delay_s=args.min_delay,
                             max_delay_s=args.max_delay, seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="dlsync-crash-") as work:
        report = crash_loop(Path(work), settings)
    rows, notes = describe(report)
    print(rows)
    for note in notes:
        print(note)
    raise SystemExit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
