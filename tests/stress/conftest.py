"""Stress fixtures: the quick modes of ``bench/stress_*.py`` import from the bench folder, and
``mirror_at(url, *flags)`` runs ``dlsync mirror`` in-process against any URL (a gate, or a
misbehaving proxy in front of one), as the scenario tests in ``tests/mirror`` do.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio.to_thread
import pytest

from dlsync import cli, logs
from dlsync.gate.server import RunningGate
from tests.mirror.conftest import (  # mirror and remote: the scenario fixtures, reused
    DATASET,
    PROJECT,
    Outcome,
    mirror,  # noqa: F401
    remote,  # noqa: F401
)

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

MirrorAt = Callable[..., Awaitable[Outcome]]


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    return root


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "state.db"


@pytest.fixture
def mirror_at(gate: RunningGate, source: Path, state_path: Path,
              monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> MirrorAt:
    """``await mirror_at(url, *flags)``: one ``dlsync mirror`` of ``source`` into ``url``."""
    monkeypatch.setenv("DLSYNC_TOKEN", gate.mint_token())

    async def run(url: str, *flags: str) -> Outcome:
        argv = ["--log-level", "warning", "--log-json", "mirror", str(source), "--remote", url,
                "--project", PROJECT, "--dataset", DATASET, "--state", str(state_path),
                "--no-progress", *flags]
        capsys.readouterr()
        try:
            await anyio.to_thread.run_sync(cli.main, argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        else:  # pragma: no cover - cli.main always exits
            raise AssertionError("dlsync.cli.main returned without exiting")
        finally:
            logs.configure(json=True, level="warning", stream=sys.__stderr__)
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run
