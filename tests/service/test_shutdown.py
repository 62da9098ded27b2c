"""SIGTERM in the middle of a burst: a clean exit, honest state, and a restart that finishes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from anyio.abc import Process

from dlsync.constants import FINGERPRINT_KEY
from dlsync.gate.faults import FaultSettings
from dlsync.gate.server import GateOptions, RunningGate, start_gate
from dlsync.remote.types import ItemJson
from tests.eventually import eventually
from tests.service.conftest import Platform, write_config

FILES = 300


async def _start(config: Path, tmp_path: Path) -> Process:
    """``dlsync run`` as a child process, returned once it logged that it is ready."""
    log = tmp_path / "service.log"
    before = log.read_text().count("service ready") if log.exists() else 0
    with log.open("ab") as err:
        process = await anyio.open_process(
            [sys.executable, "-m", "dlsync", "--log-json", "run", "--config", str(config)],
            stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    await eventually(lambda: log.read_text().count("service ready") > before, timeout=60)
    return process


async def _stop(process: Process) -> int:
    process.send_signal(signal.SIGTERM)
    with anyio.fail_after(60):
        code = await process.wait()
    await process.aclose()
    return code


def _synced(state: Path) -> dict[str, tuple[str, str]]:
    conn = sqlite3.connect(state)
    try:
        rows = conn.execute("SELECT path, item_id, sha256 FROM files WHERE status = 'synced'")
        return {path: (item_id, sha) for path, item_id, sha in rows}
    finally:
        conn.close()


@pytest.fixture
async def gate() -> AsyncIterator[RunningGate]:
    """A gate that answers each request 20 ms late, so a burst takes long enough to cut."""
    running = await start_gate(GateOptions(faults=FaultSettings(latency_ms=20)))
    yield running
    await running.close()


def _check_synced_rows(state: Path, items: dict[str, ItemJson]) -> int:
    """Assert every state row marked synced names the remote item holding its content."""
    rows = _synced(state)
    for path, (item_id, sha) in rows.items():
        item = items[f"/{path}"]
        assert item["id"] == item_id, path
        assert item["metadata"]["user"][FINGERPRINT_KEY]["sha256"] == sha, path  # type: ignore[typeddict-item]
    return len(rows)


@pytest.mark.parametrize("burst", ["while running", "before start"])
async def test_sigterm_mid_burst_then_restart(tmp_path: Path, gate: RunningGate, source: Path,
                                              platform: Platform, burst: str) -> None:
    """SIGTERM mid-burst exits 0 with honest state; a restart uploads the rest exactly once."""
    config = write_config(tmp_path, gate, source, workers=2)
    if burst == "before start":
        _write_files(source)
    process = await _start(config, tmp_path)
    try:
        if burst == "while running":
            _write_files(source)
        await platform.wait_for(lambda found: len(found) >= 20, timeout=60)
    finally:
        assert await _stop(process) == 0
    items = await platform.items()
    assert len(items) < FILES                     # it really stopped in the middle
    assert _check_synced_rows(tmp_path / "state.db", items) >= 20
    process = await _start(config, tmp_path)
    try:
        done = await platform.wait_for(lambda found: len(found) >= FILES, timeout=90)
        await eventually(lambda: len(_synced(tmp_path / "state.db")) >= FILES)
    finally:
        assert await _stop(process) == 0
    assert len(done) == FILES
    assert platform.uploads() == FILES            # nothing went up twice
    assert _check_synced_rows(tmp_path / "state.db", await platform.items()) == FILES


def _write_files(source: Path) -> None:
    for n in range(FILES):
        (source / f"f{n:04}.bin").write_bytes(os.urandom(2000))
