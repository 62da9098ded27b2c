"""Each mirror benchmark still runs end to end in its ``--quick`` mode and verifies its results.

Timings are never asserted here (speed belongs in bench/); only that the benchmark finishes,
exits 0 and printed the checks it made through the API.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

# A benchmark starts a gate and several dlsync processes; on a busy shared machine that can
# outlast the suite's 120 s default, so these tests get more.
pytestmark = pytest.mark.timeout(400)


def run_quick(script: str) -> str:
    """Run ``bench/<script> --quick``; its output, after checking that it exited 0."""
    done = subprocess.run([sys.executable, str(BENCH / script), "--quick"], capture_output=True,
                          text=True, timeout=380, cwd=BENCH.parent)
    assert done.returncode == 0, f"{script} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done.stdout


def test_mirror_vs_dtlpy_quick() -> None:
    """dlsync, dtlpy and the bare loop each fill a dataset with every file and box once."""
    out = run_quick("mirror_vs_dtlpy.py")
    assert out.count("verified:") == 3
    assert out.count("no duplicates") == 3
    assert "items/s" in out
    assert "waiting for a core" in out
    assert "bare, its loop's call alone" in out and "Against the bare loop's call alone" in out


def test_mirror_rerun_quick() -> None:
    """The first mirror uploads every file and the rerun plans nothing."""
    out = run_quick("mirror_rerun.py")
    assert "verified: the first mirror uploaded 2000 files" in out
    assert "no-change rerun" in out


def test_mirror_memory_quick() -> None:
    """Both first mirrors upload every file and report a peak RSS."""
    out = run_quick("mirror_memory.py")
    assert "verified: every file uploaded" in out
    assert "| 1,000 |" in out


def test_yolo_vs_dtlpy_quick() -> None:
    """dlsync and dtlpy's converter each fill a dataset with every YOLO image and box once."""
    out = run_quick("yolo_vs_dtlpy.py")
    assert out.count("verified:") == 2
    assert out.count("no duplicates") == 2


def test_event_loops_quick() -> None:
    """dlsync on asyncio's loop and on uvloop each fill a dataset, as does the bare loop."""
    out = run_quick("event_loops.py")
    assert out.count("no duplicates") == 3
    assert '"loop": "uvloop"' in out and '"loop": "asyncio"' in out
    assert "uvloop/asyncio, round by round" in out


def test_in_flight_quick() -> None:
    """The bare loop at each in-flight count, plain and stamped, fills its dataset once."""
    done = subprocess.run([sys.executable, str(BENCH / "in_flight.py"), "--quick", "--stamped"],
                          capture_output=True, text=True, timeout=380, cwd=BENCH.parent)
    assert done.returncode == 0, f"in_flight.py failed:\n{done.stdout[-3000:]}{done.stderr}"
    assert done.stdout.count("verified:") == 6
    assert done.stdout.count("no duplicates") == 6
    assert "128 in flight, stamped" in done.stdout


def test_rounds_set_aside_for_steal_fill_the_medians_only_when_too_few_were_kept() -> None:
    """Kept rounds always count; set-aside (stolen) rounds fill up to ``runs``, least-stolen
    first; the report names every set-aside round with its steal and wall ratio."""
    sys.path.insert(0, str(BENCH))
    try:
        import mirror_vs_dtlpy as bench
    finally:
        sys.path.remove(str(BENCH))

    def round_(steal: float, bare: float, dlsync: float) -> bench.Round:
        return ({"bare": bench.Side(bare, 1.0, 0.1, steal=steal),
                 "dlsync": bench.Side(dlsync, 1.0, 0.1, steal=steal / 2)}, {"steal": steal})

    kept = [round_(0.01, 10.0, 11.0), round_(0.02, 10.0, 10.5)]
    aside = [round_(0.20, 10.0, 20.0), round_(0.08, 10.0, 12.0)]
    chosen = bench.medians_from(kept, aside, 3)
    assert [summary["steal"] for _, summary in chosen] == [0.01, 0.02, 0.08]
    assert bench.medians_from(kept, aside, 2) == kept
    assert bench.medians_from([*kept, *kept], aside, 3) == [*kept, *kept]

    note = bench._stealing_note(bench.Stealing(5.0, [(0.20, 0.5), (0.08, 10 / 12)], 1))
    assert "2 round(s) set aside" in note
    assert "20.0 % (wall 0.50)" in note and "8.0 % (wall 0.83)" in note
    assert "the 1 least-stolen" in note
    assert "No round was set aside" in bench._stealing_note(bench.Stealing(5.0, [], 0))


def test_the_gate_time_note_splits_each_span_into_running_waiting_and_idle() -> None:
    """A side's idle time is its span less what the gate ran and waited; the note gives the
    medians of bare and dlsync (not dtlpy's), and this process's own schedstat reads as run."""
    sys.path.insert(0, str(BENCH))
    try:
        import common
        import mirror_vs_dtlpy as bench
    finally:
        sys.path.remove(str(BENCH))

    def side(ran: float, waited: float, span: float) -> bench.Side:
        return bench.Side(span, 1.0, 0.1, gate_cpu_s=ran, gate_waited_s=waited, span_s=span)

    assert side(8.0, 1.5, 10.0).gate_idle_s == pytest.approx(0.5)
    note = bench._gate_time_note({"bare": [side(8.0, 0.2, 9.0), side(8.2, 0.4, 9.4)],
                                  "dlsync": [side(8.5, 1.0, 10.5)],
                                  "dtlpy": [side(30.0, 0.0, 60.0)]})
    assert "bare 8.10 running, 0.30 waiting for a core, 0.80 idle" in note
    assert "dlsync 8.50 running, 1.00 waiting for a core, 1.00 idle" in note
    assert "dtlpy" not in note
    ran, waited = common.sched_seconds_of(os.getpid())
    assert ran > 0 and waited >= 0


def test_the_profile_breakdown_sorts_samples_by_role_and_part() -> None:
    """py-spy's raw stacks: the main thread is the event loop's (its unnamed first samples
    too), a pooled worker's samples go to the planner or the state writer by what is on their
    stack, waiting leaves are counted apart, and each busy sample goes to the first part named
    in its stack (the annotation post before the upload that encloses it)."""
    sys.path.insert(0, str(BENCH))
    try:
        import mirror_profile as profile
    finally:
        sys.path.remove(str(BENCH))

    loop = "thread (0x1): MainThread;main (dlsync/cli.py:1)"
    unnamed = "thread (0x1);<module> (dlsync/__main__.py:3)"
    upload = "Executor._upload (dlsync/push/executor.py:1)"
    pooled = "thread (0x2): AnyIO worker thread;_bootstrap (threading.py:1)"
    planner = f"{pooled};Planner.walk (dlsync/push/planner.py:1)"
    raw = [
        f"{loop};Runner.run (asyncio/runners.py:118) 30",
        f"{loop};{upload};write (aiohttp/x.py:1) 40",
        f"{loop};{upload};sync_annotations (dlsync/push/annotate.py:1) 20",
        f"{unnamed};_find_and_load (<frozen importlib._bootstrap>:1) 10",
        f"{planner};_hash_open_file (dlsync/local/fingerprint.py:1) 6",
        f"{planner};_visit (dlsync/local/scan.py:1) 3",
        f"{planner};Handoff._cross (dlsync/push/handoff.py:1);Condition.wait (threading.py:327) 11",
        f"{pooled};apply (dlsync/state/apply.py:1) 2",
        f"{pooled};Condition.wait (threading.py:327) 18",
        "garbage",
    ]
    found = profile.breakdown(raw)
    assert set(found) == {"event loop", "planner", "state writer"}
    assert (found["event loop"].samples, found["event loop"].waiting) == (100, 30)
    assert found["event loop"].parts == {"the upload request": 40, "the annotation post": 20,
                                         "imports (start-up)": 10}
    assert (found["planner"].samples, found["planner"].busy) == (20, 9)
    assert found["planner"].parts == {"hashing the file": 6,
                                      "the scan and the march against the state": 3}
    assert (found["state writer"].samples, found["state writer"].busy) == (2, 2)
    text = profile.report(found, rate=10)
    assert "event loop: busy 7.00 s (70 samples), waiting in 30 % of its 100 samples" in text
    assert "the upload request: 57.1 % of the busy ones" in text
    assert "planner: busy 0.90 s (9 samples), waiting in 55 % of its 20 samples" in text
    assert "state writer: busy 0.20 s (2 samples)\n  SQLite writes: 100.0 %" in text
