"""Pull scenarios: ``dlsync pull`` and ``dlsync mirror`` through their command line on one gate.

The mirror fixtures (``source``, ``state_path``, ``remote``, ``mirror``) are shared with the
mirror scenarios; ``pull(*flags)`` runs ``dlsync pull`` the same way and returns an ``Outcome``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from dlsync.gate.server import RunningGate
from tests.commands import Outcome, run_cli
from tests.mirror.conftest import DATASET, PROJECT, mirror, remote

__all__ = ["annotation_doc", "mirror", "pull", "remote"]

PullRun = Callable[..., Awaitable[Outcome]]


@pytest.fixture
def pull(gate: RunningGate, source: Path, state_path: Path, monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str]) -> PullRun:
    """``await pull(*flags)``: one ``dlsync pull`` of ``source`` as an ``Outcome``."""
    monkeypatch.setenv("DLSYNC_TOKEN", gate.mint_token())

    async def run(*flags: str, root: Path | None = None) -> Outcome:
        return await run_cli(["pull", str(root or source), "--remote", gate.url,
                              "--project", PROJECT, "--dataset", DATASET,
                              "--state", str(state_path), *flags], capsys)

    return run


def annotation_doc(path: Path) -> dict[str, Any]:
    """The parsed JSON of an annotation file."""
    return dict(json.loads(path.read_text(encoding="utf-8")))
