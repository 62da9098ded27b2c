"""``bench/task_add.py --quick`` runs end to end and verifies the task it filled."""

from __future__ import annotations

import pytest

from tests.bench_smoke.test_bench_quick import run_quick

pytestmark = pytest.mark.timeout(400)


def test_task_add_quick() -> None:
    """Every backfilled item lands in the task once, in batched calls."""
    out = run_quick("task_add.py")
    assert "verified: task 'bench' holds all 1500 items, each once" in out
    assert '"POST /annotationtasks/{id}/addToTask": 1' in out
