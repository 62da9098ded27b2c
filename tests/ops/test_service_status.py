"""``dlsync status`` beside a real ``dlsync run`` process serving a pair against the gate."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import anyio
from anyio.abc import Process

from dlsync.errors import StateError
from dlsync.gate.server import RunningGate
from dlsync.model import FileStatus
from dlsync.status import StatusReport, collect
from tests.eventually import eventually

DEADLINE_S = 90.0


def _config(tmp_path: Path, source: Path, gate: RunningGate) -> Path:
    path = tmp_path / "dlsync.toml"
    path.write_text(f"""
[pairs.cams]
source = "{source}"
remote = "{gate.url}"
project = "ops"
dataset = "service"
create = true
""")
    return path


async def _until(state: Path, wanted: str,
                 check: Callable[[StatusReport], bool] | None = None) -> StatusReport:
    """Poll status until the service is in state ``wanted`` (and ``check`` holds)."""
    def report() -> StatusReport | None:
        if not state.exists():
            return None
        try:
            found = collect(state)
        except StateError:   # the file is there, its schema not yet: the service is starting
            return None
        if found.service.state == wanted and (check is None or check(found)):
            return found
        return None

    return await eventually(report, DEADLINE_S)


async def _stop(process: Process) -> int:
    process.send_signal(signal.SIGTERM)
    with anyio.fail_after(DEADLINE_S):
        return await process.wait()


async def test_status_sees_a_running_service_and_its_clean_stop(
        gate: RunningGate, tmp_path: Path, source: Path) -> None:
    """While ``dlsync run`` serves, status shows it running with its pid and the synced files;
    after SIGTERM it shows the service stopped."""
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        (source / name).write_bytes(name.encode())
    state = tmp_path / "state" / "state.db"
    env = {**os.environ, "DLSYNC_TOKEN": gate.mint_token()}
    argv = [sys.executable, "-m", "dlsync", "--log-level", "warning", "--log-json", "run",
            "--config", str(_config(tmp_path, source, gate)), "--state", str(state)]
    process = await anyio.open_process(argv, env=env, stdout=None, stderr=None)
    try:
        report = await _until(state, "running", lambda r: bool(r.pairs) and
                              r.pairs[0].counts[FileStatus.SYNCED] == 3)
    except BaseException:
        await _stop(process)
        raise
    assert report.service.pid == process.pid
    assert report.pairs[0].spec.name == "cams"
    assert await _stop(process) == 0
    assert collect(state).service.state == "stopped"
