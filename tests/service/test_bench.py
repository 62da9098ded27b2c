"""The service benchmark still runs end to end in its ``--quick`` mode (timings not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "service_latency.py"


@pytest.mark.timeout(300)
def test_service_latency_quick() -> None:
    """Every single change and every burst file is found listed; the rates are printed (the
    service's burst with and without its settle time and moved in by a rename, the mirror's
    beside each)."""
    done = subprocess.run([sys.executable, str(BENCH), "--quick"], capture_output=True,
                          text=True, timeout=280, cwd=BENCH.parents[1])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "verified: every change and every burst file was found by a listing" in done.stdout
    assert done.stdout.count("files/s") == 6
    assert "CPU per file of that burst" in done.stdout
