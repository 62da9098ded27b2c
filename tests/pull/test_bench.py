"""The pull benchmark runs end to end in its quick form."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "pull_annotations.py"


@pytest.mark.timeout(120)
def test_quick_pull_benchmark_pulls_every_change() -> None:
    """--quick checks out every item, then the incremental pull writes exactly the changed ones."""
    spec = importlib.util.spec_from_file_location("pull_annotations", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["pull_annotations"] = module
    spec.loader.exec_module(module)
    figures = module.main(["--quick"])
    assert figures["first"]["downloaded"] == figures["items"]
    assert figures["first"]["outcomes"] == {"written": figures["items"]}
    assert figures["incremental"]["outcomes"] == {"written": figures["changes"]}
    assert figures["full"]["outcomes"] == {"unchanged": figures["items"]}


CHECKOUT = Path(__file__).resolve().parents[2] / "bench" / "checkout_vs_dtlpy.py"


@pytest.mark.dtlpy
@pytest.mark.timeout(300)
def test_quick_checkout_benchmark_verifies_every_checkout() -> None:
    """--quick checks out 200 items four ways (dlsync and dtlpy, with and without JSON
    annotations), verifies every file's bytes and annotation file, and prints the ratios."""
    done = subprocess.run([sys.executable, str(CHECKOUT), "--quick"], capture_output=True,
                          text=True, timeout=280)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    for mode in ("dlsync items", "dlsync + JSON", "dtlpy items", "dtlpy + JSON"):
        assert f"| {mode} |" in done.stdout
    assert "items only: dlsync" in done.stdout
