"""An upload whose ``metadata`` part the platform does not apply still ends with the item
carrying dlsync's fingerprint (the gate started with the other behaviour)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dlsync.constants import FINGERPRINT_KEY
from dlsync.gate.behaviour import GateBehaviour
from dlsync.gate.server import GateOptions, RunningGate, start_gate
from tests.layouts import write_item
from tests.mirror.conftest import MirrorRun, Remote


@pytest.fixture
async def gate() -> AsyncIterator[RunningGate]:
    """A gate that ignores the upload's metadata form field."""
    running = await start_gate(GateOptions(
        behaviour=GateBehaviour(upload_applies_metadata=False)))
    try:
        yield running
    finally:
        await running.close()


async def test_a_fingerprint_the_platform_dropped_is_patched(
        mirror: MirrorRun, remote: Remote, source: Path) -> None:
    """dlsync checks the reply's fingerprint and patches it in when it is missing; the next
    run, even from the platform's fingerprints alone, finds the item in sync."""
    write_item(source, "y.bin", b"abc")
    code, out, err = await mirror("--create", "--annotations", "none")
    assert code == 0, out + err
    item = (await remote.items())["/y.bin"]
    assert item["metadata"]["user"][FINGERPRINT_KEY]["size"] == 3
