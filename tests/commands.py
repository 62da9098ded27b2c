"""Running ``dlsync`` commands in-process, the way scenario tests drive them.

``run_cli`` runs the click command line in a worker thread (it starts its own event loop while
the gate keeps serving on the test's loop) and returns what it printed and its exit code.
"""

from __future__ import annotations

import sys
from typing import NamedTuple

import anyio.to_thread
import pytest

from dlsync import cli, logs


class Outcome(NamedTuple):
    """What one command run gave back."""

    code: int
    out: str
    err: str


async def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> Outcome:
    """``dlsync <argv>`` with JSON logs at warning level; its exit code and output."""
    capsys.readouterr()
    try:
        await anyio.to_thread.run_sync(cli.main, ["--log-level", "warning", "--log-json", *argv])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    else:  # pragma: no cover - cli.main always exits
        raise AssertionError("dlsync.cli.main returned without exiting")
    finally:
        logs.configure(json=True, level="warning", stream=sys.__stderr__)
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)
