"""A full service cycle cut short by a shutdown is recorded as interrupted, not as finished."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dlsync.gate.faults import FaultSettings
from dlsync.gate.server import GateOptions, RunningGate, start_gate
from dlsync.state.ops import RunKind, RunOutcome
from dlsync.state.queries import StateReader
from tests.service.conftest import Platform, running, write_config

FILES = 200


@pytest.fixture
async def gate() -> AsyncIterator[RunningGate]:
    """A gate that answers each request 20 ms late, so the first full cycle can be cut."""
    served = await start_gate(GateOptions(faults=FaultSettings(latency_ms=20)))
    yield served
    await served.close()


async def test_full_cycle_stopped_midway_is_recorded_interrupted(
        tmp_path: Path, gate: RunningGate, source: Path, platform: Platform) -> None:
    """SIGTERM (``stop``) during the start-up reconcile: its run row says interrupted."""
    an_hour_ago = time.time() - 3600
    for n in range(FILES):
        path = source / f"f{n:04}.bin"
        path.write_bytes(n.to_bytes(4, "big") * 100)
        # settled long ago: the start-up reconcile takes them all, whatever the machine's speed
        os.utime(path, (an_hour_ago, an_hour_ago))
    config = write_config(tmp_path, gate, source, workers=2)
    async with running(config):
        await platform.wait_for(lambda found: len(found) >= 10, timeout=60)
    assert len(await platform.items()) < FILES          # it really stopped midway
    with StateReader(tmp_path / "state.db") as reader:
        run = reader.last_run(reader.pairs()[0][0], RunKind.RECONCILE)
    assert run is not None and run.finished is not None
    assert run.outcome is RunOutcome.INTERRUPTED
