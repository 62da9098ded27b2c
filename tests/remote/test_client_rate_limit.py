"""A gate limited to 50 requests/s: the pacer keeps up with it and rarely hits a 429."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from dlsync.gate.faults import FaultSettings
from dlsync.remote.client import DataloopClient
from dlsync.remote.credentials import Credentials
from tests.remote.conftest import EMAIL, settings_for, unique

SERVER_RATE = 50.0
CALLERS = 32


async def run_uploads(gate: Any, tmp_path: Path, client_rate: float, count: int,
                      ) -> tuple[dict[str, Any], float, DataloopClient]:
    """Upload ``count`` files from 32 callers under a 50/s gate; return stats, rate, client."""
    src = tmp_path / "small.bin"
    src.write_bytes(b"z" * 1024)
    creds = Credentials(gate.mint_token(email=EMAIL, ttl=3600))
    settings = settings_for(gate, rate=client_rate, burst=5, concurrency=CALLERS,
                            max_total_wait=90.0)
    async with DataloopClient(settings, creds) as client:
        project = await client.get_project(unique("rl"), create=True)
        dataset = await client.get_dataset(project["id"], unique("rl"), create=True)
        gate.set_faults(FaultSettings(rate_limit=SERVER_RATE))
        gate.reset_stats()
        limit = anyio.Semaphore(CALLERS)
        done: list[str] = []

        async def one(n: int) -> None:
            async with limit:
                done.append((await client.upload(dataset["id"], src, f"/r/{n}.bin")).item["id"])

        start = time.monotonic()
        async with anyio.create_task_group() as tg:
            for n in range(count):
                tg.start_soon(one, n)
        elapsed = time.monotonic() - start
        stats = gate.stats()
        gate.set_faults(FaultSettings())
    assert len(set(done)) == count
    return stats, count / elapsed, client


def share_429(stats: dict[str, Any]) -> float:
    """The share of the gate's answers that were 429."""
    return int(stats["by_status"].get("429", 0)) / int(stats["total"])


@pytest.mark.slow
async def test_pacer_at_server_rate_succeeds_with_few_429s(gate: Any, tmp_path: Path) -> None:
    """At 49/s against a 50/s gate, 400 uploads (eight seconds) succeed, ≤ 5 % of answers are
    429."""
    stats, rate, client = await run_uploads(gate, tmp_path, 49.0, 400)
    print(f"\nclient 49/s vs gate 50/s: {rate:.1f} uploads/s ({rate / SERVER_RATE:.0%} of the "
          f"limit), 429 share {share_429(stats):.2%}, pacer {client.pacer.stats()}")
    assert share_429(stats) <= 0.05
    # the achieved rate is a speed figure: printed here and kept in docs/benchmarks.md, never
    # asserted (a loaded machine must not fail the suite)


@pytest.mark.slow
async def test_aimd_settles_a_client_configured_above_the_server(gate: Any,
                                                                 tmp_path: Path) -> None:
    """At 100/s against a 50/s gate, AIMD cuts the rate: every upload still succeeds."""
    stats, rate, client = await run_uploads(gate, tmp_path, 100.0, 300)
    pacer = client.pacer.stats()
    print(f"\nclient 100/s vs gate 50/s: {rate:.1f} uploads/s, 429 share "
          f"{share_429(stats):.2%}, rate cuts {pacer.rate_decreases}, pacer {pacer}")
    assert pacer.rate_decreases >= 1
    assert share_429(stats) < 0.5
