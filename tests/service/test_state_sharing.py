"""The service's state database while other processes read it, and its pairs share it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import anyio
import anyio.to_thread

from dlsync.gate.server import RunningGate
from dlsync.service.shared import SharedStore
from dlsync.state.ops import daemon_heartbeat
from tests.eventually import eventually
from tests.service.conftest import Platform, running, write_config

_PEEK = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
         "c.execute('SELECT count(*) FROM files').fetchall(); c.close()")


def _synced(state: Path) -> set[str]:
    conn = sqlite3.connect(state)
    try:
        return {row[0] for row in conn.execute("SELECT path FROM files WHERE status = 'synced'")}
    finally:
        conn.close()


async def _recorded(state: Path, path: str) -> bool:
    return path in await anyio.to_thread.run_sync(_synced, state)


async def test_another_process_reading_state_leaves_the_service_intact(
        tmp_path: Path, gate: RunningGate, source: Path, platform: Platform) -> None:
    """A process opening and closing the state database mid-run keeps the service's WAL."""
    state = tmp_path / "state.db"
    config = write_config(tmp_path, gate, source)
    async with running(config):
        (source / "a.txt").write_bytes(b"before the peek")
        await platform.wait_for(lambda found: "/a.txt" in found)
        await anyio.run_process([sys.executable, "-c", _PEEK, str(state)],
                                stdout=subprocess.DEVNULL)
        assert (tmp_path / "state.db-wal").exists()   # the peek was not the last connection
        (source / "b.txt").write_bytes(b"after the peek")
        await platform.wait_for(lambda found: "/b.txt" in found)
        await eventually(lambda: _recorded(state, "b.txt"))
    assert _synced(state) == {"a.txt", "b.txt"}


def test_shared_store_transactions_take_turns(tmp_path: Path) -> None:
    """Writers on many threads share one connection without interleaving transactions."""
    with SharedStore.open(tmp_path / "state.db") as store:
        def beat(n: int) -> None:
            for i in range(50):
                store.write([daemon_heartbeat(n, float(i))])

        async def main() -> None:
            async with anyio.create_task_group() as tg:
                for n in range(8):
                    tg.start_soon(anyio.to_thread.run_sync, beat, n)

        anyio.run(main)
        store.write([daemon_heartbeat(99, 1.0)])   # the turn is free again
    conn = sqlite3.connect(tmp_path / "state.db")
    try:
        assert conn.execute("SELECT count(*) FROM meta").fetchone()[0] >= 1
    finally:
        conn.close()
