"""Each mirror benchmark still runs end to end in its ``--quick`` mode and verifies its results.

Timings are never asserted here (speed belongs in bench/); only that the benchmark finishes,
exits 0 and printed the checks it made through the API.
"""

from __future__ import annotations

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
