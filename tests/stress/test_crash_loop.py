"""Quick crash loop: ``dlsync mirror`` and the gate SIGKILLed mid-run, then everything once."""

from __future__ import annotations

from pathlib import Path

import pytest
import stress_crash

pytestmark = pytest.mark.slow


def test_sigkilled_mirror_and_gate_end_in_sync_with_nothing_lost(tmp_path: Path) -> None:
    """After 5 kills (one of the gate) a final run exits 0 and every file and box is there once."""
    settings = stress_crash.CrashSettings(files=300, kills=5, gate_kills=1, latency_ms=20.0,
                                          min_delay_s=0.5, max_delay_s=2.5, seed=3)
    report = stress_crash.crash_loop(tmp_path, settings)
    assert report.final is not None and report.verdict is not None
    assert report.final.code == 0, report.final.stderr[-3000:]
    assert report.gate_kills == 1 and report.mirror_kills + len(report.ended_before_kill) == 4
    assert report.acknowledged_checked > 0, "the gate was killed before anything was recorded"
    assert report.lost_after_gate_kill == []
    assert report.verdict.problems == []
    assert report.verdict.items == 300
