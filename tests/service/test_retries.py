"""Failed files come back with exponential backoff, the due time recorded in state."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import anyio.to_thread
import pytest

from dlsync.gate.server import RunningGate
from dlsync.service.retry import backoff
from tests.service.conftest import Platform, running, write_config


def _row(state: Path, path: str) -> tuple[str, int, float | None, float] | None:
    conn = sqlite3.connect(state)
    try:
        return conn.execute("SELECT status, attempts, next_attempt, updated FROM files "
                            "WHERE path = ?", (path,)).fetchone()
    finally:
        conn.close()


async def _until(state: Path, path: str, check: object) -> tuple[str, int, float | None, float]:
    with anyio.fail_after(30):
        while True:
            row = await anyio.to_thread.run_sync(_row, state, path)
            if row is not None and check(row):  # type: ignore[operator]
                return row
            await anyio.sleep(0.05)


@pytest.fixture(autouse=True)
def _quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff starts at 0.3 s and idle pairs look every 0.05 s, so retries come quickly."""
    monkeypatch.setattr("dlsync.constants.ITEM_RETRY_BASE_S", 0.3)
    monkeypatch.setattr("dlsync.constants.IDLE_WAKE_S", 0.05)


async def test_failed_file_is_retried_with_doubling_backoff(
        tmp_path: Path, gate: RunningGate, source: Path, platform: Platform) -> None:
    """A file the platform refuses is tried again unchanged, waiting twice as long each time."""
    state = tmp_path / "state.db"
    name = "bell\x07.txt"        # a control character: the platform refuses the name
    (source / name).write_bytes(b"content")
    (source / "fine.txt").write_bytes(b"content too")
    config = write_config(tmp_path, gate, source)
    async with running(config):
        first = await _until(state, name, lambda r: r[1] == 1 and r[2] is not None)
        second = await _until(state, name, lambda r: r[1] == 2 and r[2] is not None)
        third = await _until(state, name, lambda r: r[1] == 3 and r[2] is not None)
        found = await platform.wait_for(lambda found: "/fine.txt" in found)
    assert first[0] == second[0] == third[0] == "failed"
    for _status, attempts, due, updated in (first, second, third):
        assert due is not None
        assert abs((due - updated) - backoff(attempts)) < 0.25, attempts
    assert backoff(3) == 2 * backoff(2) == 4 * backoff(1)
    assert set(found) == {"/fine.txt"}
