"""Pull scenarios: ``dlsync pull`` and ``dlsync mirror`` through their command line on one gate.

The mirror fixtures (``source``, ``state_path``, ``remote``, ``mirror``) are shared with the
mirror scenarios; ``pull(*flags)`` runs ``dlsync pull`` the same way and returns an ``Outcome``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest

from dlsync import cli, logs
from dlsync.gate.server import RunningGate
from tests.mirror.conftest import DATASET, PROJECT, Outcome, mirror, remote, source, state_path

__all__ = ["annotation_doc", "mirror", "pull", "remote", "source", "state_path"]

PullRun = Callable[..., Awaitable[Outcome]]


@pytest.fixture
def pull(gate: RunningGate, source: Path, state_path: Path, monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str]) -> PullRun:
    """``await pull(*flags)``: one ``dlsync pull`` of ``source`` as an ``Outcome``."""
    monkeypatch.setenv("DLSYNC_TOKEN", gate.mint_token())

    async def run(*flags: str, root: Path | None = None) -> Outcome:
        argv = ["--log-level", "warning", "--log-json", "pull", str(root or source),
                "--remote", gate.url, "--project", PROJECT, "--dataset", DATASET,
                "--state", str(state_path), *flags]
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


def annotation_doc(path: Path) -> dict[str, Any]:
    """The parsed JSON of an annotation file."""
    return dict(json.loads(path.read_text(encoding="utf-8")))
