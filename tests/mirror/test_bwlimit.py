"""``dlsync mirror --bwlimit``: the run's upload rate holds to the limit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dlsync.gate.server import RunningGate
from tests.mirror.conftest import MirrorRun, uploads

MIB = 1 << 20


@pytest.mark.slow
async def test_bwlimit_holds_the_measured_rate(mirror: MirrorRun, source: Path,
                                               gate: RunningGate) -> None:
    """Three 1 MiB files with --bwlimit 1M (1 MiB/s, as rclone reads it) and eight workers:
    bytes sent over the run's duration is 1 MiB/s within 10 %."""
    for n in range(3):
        (source / f"f{n}.bin").write_bytes(bytes([n]) * MIB)
    outcome = await mirror("--create", "--bwlimit", "1M", "--workers", "8", "--json")
    assert outcome.code == 0, outcome.err
    report = json.loads(outcome.out)
    rate = report["bytes_sent"] / report["duration_s"]
    print(f"measured {rate / MIB:.3f} MiB/s under --bwlimit 1M")
    assert report["bytes_sent"] == 3 * MIB
    assert 0.9 * MIB <= rate <= 1.1 * MIB, f"{rate / MIB:.3f} MiB/s"
    assert uploads(gate.stats()) == 3


async def test_bwlimit_refuses_decimal_units(mirror: MirrorRun, source: Path) -> None:
    """A rate rclone would not read the same way is a usage error (exit 2), not a guess."""
    outcome = await mirror("--bwlimit", "10MB")
    assert outcome.code == 2
    assert "10M is 10 MiB" in outcome.err
