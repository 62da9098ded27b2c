"""Stress fixtures: the quick modes of ``bench/stress_*.py`` import from the bench folder, and
``mirror_at(url, *flags)`` runs ``dlsync mirror`` in-process against any URL (a gate, or a
misbehaving proxy in front of one), as the scenario tests in ``tests/mirror`` do.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from dlsync.gate.server import RunningGate
from tests.commands import Outcome, run_cli
from tests.mirror.conftest import (  # the scenario fixtures, reused
    DATASET,
    PROJECT,
    mirror,  # noqa: F401
    remote,  # noqa: F401
)

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

MirrorAt = Callable[..., Awaitable[Outcome]]


@pytest.fixture
def mirror_at(gate: RunningGate, source: Path, state_path: Path,
              monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> MirrorAt:
    """``await mirror_at(url, *flags)``: one ``dlsync mirror`` of ``source`` into ``url``."""
    monkeypatch.setenv("DLSYNC_TOKEN", gate.mint_token())

    async def run(url: str, *flags: str) -> Outcome:
        return await run_cli(["mirror", str(source), "--remote", url, "--project", PROJECT,
                              "--dataset", DATASET, "--state", str(state_path),
                              "--no-progress", *flags], capsys)

    return run
