"""Failed files come back with exponential backoff, the due time recorded in state.

The daemon runs on a fake clock: a retry comes exactly when the clock reaches its due time.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio.to_thread
import pytest

from dlsync import constants
from dlsync.gate.server import RunningGate
from dlsync.service.retry import backoff
from tests.eventually import eventually
from tests.fakeclock import FakeClock
from tests.service.conftest import Platform, running, write_config

SETTLE_RELOOK_S = constants.SETTLE_RELOOK_S
"""How soon a file already quiet is looked at again after its first look."""

Row = tuple[str, int, float | None]


def _row(state: Path, path: str) -> Row | None:
    conn = sqlite3.connect(state)
    try:
        return conn.execute("SELECT status, attempts, next_attempt FROM files WHERE path = ?",
                            (path,)).fetchone()
    finally:
        conn.close()


async def _failed(state: Path, path: str, attempts: int) -> Row:
    """The row of ``path`` once it records its ``attempts``-th failure and the next due time."""
    async def row() -> Row | None:
        found = await anyio.to_thread.run_sync(_row, state, path)
        return found if found is not None and found[1] == attempts and found[2] else None

    return await eventually(row)


async def _when(clock: FakeClock, sleeping: float, advance: float) -> None:
    """Once the pair sleeps ``sleeping`` seconds on ``clock``, advance it by ``advance``."""
    await eventually(lambda: clock.waiting(sleeping))
    clock.advance(advance)


async def test_failed_file_is_retried_with_doubling_backoff(
        tmp_path: Path, gate: RunningGate, source: Path, platform: Platform) -> None:
    """A file the platform refuses is tried again unchanged, waiting twice as long each time:
    state records the due time, and the retry comes when the clock reaches it."""
    state = tmp_path / "state.db"
    name = "bell\x07.txt"        # a control character: the platform refuses the name
    (source / name).write_bytes(b"content")
    (source / "fine.txt").write_bytes(b"content too")
    clock = FakeClock()
    clock.advance(1.0)           # both files have been quiet for longer than settle
    config = write_config(tmp_path, gate, source)
    async with running(config, clock=clock):
        found = await platform.wait_for(lambda found: "/fine.txt" in found)
        for attempts in (1, 2, 3):
            status, _, due = await _failed(state, name, attempts)
            assert status == "failed"
            assert due == pytest.approx(clock.wall() + backoff(attempts))
            await _when(clock, constants.IDLE_WAKE_S, backoff(attempts) - 0.01)
            await eventually(lambda: clock.waiting(constants.IDLE_WAKE_S))  # looked: not due
            assert (await anyio.to_thread.run_sync(_row, state, name))[1] == attempts
            await _when(clock, constants.IDLE_WAKE_S, constants.IDLE_WAKE_S)  # due: retried
            # long quiet, so looked at again a relook (not a tick) later: stat unchanged
            await _when(clock, SETTLE_RELOOK_S, SETTLE_RELOOK_S)
        await _failed(state, name, 4)
    assert backoff(3) == 2 * backoff(2) == 4 * backoff(1)
    assert set(found) == {"/fine.txt"}
