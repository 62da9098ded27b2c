"""The service's CPU priority: ``[service] priority`` (default ``normal``) applies to every
thread of ``dlsync run``; ``--priority`` overrides the config."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from dlsync.gate.server import RunningGate
from dlsync.priority import LOW_NICENESS
from tests.eventually import eventually
from tests.service.conftest import write_config

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="reads each thread's niceness from /proc")


def _thread_niceness(pid: int) -> list[int]:
    """The niceness of every thread of process ``pid`` (field 19 of its tasks' ``stat``)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        stat = (task / "stat").read_text()
        found.append(int(stat[stat.rindex(")") + 2:].split()[16]))
    return found


@pytest.mark.parametrize(("setting", "flag", "expected"), [
    (None, None, "normal"), ("low", None, "low"), ("low", "normal", "normal"),
    ("normal", "low", "low")])
async def test_the_service_runs_at_its_priority(tmp_path: Path, gate: RunningGate,
                                               source: Path, setting: str | None,
                                               flag: str | None, expected: str) -> None:
    """Every thread of a running service has the niceness its priority asks for."""
    config = write_config(tmp_path, gate, source,
                          service={"priority": setting} if setting else None)
    log = tmp_path / "service.log"
    argv = [sys.executable, "-m", "dlsync", "--log-json", "run", "--config", str(config),
            *(["--priority", flag] if flag else [])]
    with log.open("wb") as err:
        process = await anyio.open_process(
            argv, stdout=subprocess.DEVNULL, stderr=err,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "DLSYNC_TOKEN": gate.mint_token()})
    try:
        await eventually(lambda: "service ready" in log.read_text(), timeout=60)
        own = os.getpriority(os.PRIO_PROCESS, 0)
        want = max(own, LOW_NICENESS) if expected == "low" else own
        niceness = _thread_niceness(process.pid)
        assert len(niceness) > 1 and set(niceness) == {want}   # the watcher's threads too
    finally:
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(60):
            assert await process.wait() == 0, log.read_text()
        await process.aclose()
