"""``bench/million.py`` still runs end to end on a small tree and verifies what it measured.

Timings are never asserted here (speed belongs in bench/); only that the benchmark finishes,
exits 0 and printed its per-file table with the checks it made.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

pytestmark = pytest.mark.timeout(400)


def test_million_small_tree(tmp_path: Path) -> None:
    """2,000 files: the first mirror uploads all, the rerun plans nothing, the tree is kept."""
    command = [sys.executable, str(BENCH / "million.py"), "--files", "2000", "--per-dir", "100",
               "--keep", str(tmp_path), "--no-docs", "--max-load", "100",
               "--settle", "0"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=380,
                          cwd=BENCH.parent)
    assert done.returncode == 0, f"million.py failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    assert "verified: each first mirror uploaded (or adopted) every file" in done.stdout
    assert "| rerun / floor" in done.stdout
    assert (tmp_path / "tree-2000-100.complete").exists()
    assert '"files": 2000' in (tmp_path / "results.json").read_text(encoding="utf-8")


def test_million_seeded_tree(tmp_path: Path) -> None:
    """``--seed``: the first mirror adopts every seeded item and one rerun plans nothing."""
    command = [sys.executable, str(BENCH / "million.py"), "--files", "1000", "--per-dir", "100",
               "--keep", str(tmp_path), "--seed", "--runs", "1", "--no-docs",
               "--max-load", "100",
               "--settle", "0"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=380,
                          cwd=BENCH.parent)
    assert done.returncode == 0, f"million.py failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    assert "verified: each first mirror uploaded (or adopted) every file" in done.stdout
    assert "first mirror seeded, adopted" in done.stdout
