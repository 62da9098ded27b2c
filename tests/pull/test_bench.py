"""The pull benchmark runs end to end in its quick form."""

from __future__ import annotations

import importlib.util
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
