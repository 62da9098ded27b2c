"""Quick fault soak: rate limit, 5xx, dropped connections and latency at once."""

from __future__ import annotations

from pathlib import Path

import pytest
import stress_soak

pytestmark = pytest.mark.slow


def test_one_run_through_every_fault_exits_0_in_sync(tmp_path: Path) -> None:
    """300 files through 429s, 5xx and drops: one run exits 0, nothing missing or doubled."""
    report = stress_soak.soak(tmp_path, stress_soak.SoakSettings(files=300, reruns=0, seed=5))
    run = report.runs[0]
    assert run.code == 0, run.summary.get("failures") or run.stderr[-3000:]
    assert report.verdict is not None and report.verdict.problems == []
    assert report.verdict.items == 300
    answers = stress_soak.statuses(report.gate_stats)
    assert answers.get("429", 0) > 0, "the rate limit was never reached"
    assert report.gate_stats["dropped_after"] > 0, "no request was dropped after applying"
    assert run.summary["rate_limited"] == answers["429"]
    assert run.summary["requests_retried"] > 0
