"""A 50 MiB upload streams from disk: the client's memory does not grow with the file."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlsync.remote.client import DataloopClient
from dlsync.remote.credentials import Credentials
from dlsync.remote.settings import RemoteSettings
from tests.remote.conftest import unique
from tests.remote.gate_process import GateProcess, start_gate

MIB = 1 << 20


@pytest.fixture(scope="module")
def gate_process() -> Iterator[GateProcess]:
    """A gate in another process, so that its memory is not traced with the client's."""
    running = start_gate()
    yield running
    running.stop()


@pytest.mark.slow
async def test_50_mib_upload_keeps_traced_memory_flat(gate_process: GateProcess,
                                                      tmp_path: Path) -> None:
    """Uploading 50 MiB allocates far less than the file: peak traced memory < 10 MiB."""
    big = tmp_path / "big.bin"
    with big.open("wb") as out:
        for n in range(50):
            out.write(bytes([n]) * MIB)
    settings = RemoteSettings(url=gate_process.url, gate_url=gate_process.root_url)
    async with DataloopClient(settings, Credentials(gate_process.token)) as client:
        project = await client.get_project(unique("mem"), create=True)
        dataset = await client.get_dataset(project["id"], unique("mem"), create=True)
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            result = await client.upload(dataset["id"], big, "/big.bin")
            peak = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
    print(f"\n50 MiB upload: peak traced allocation {peak / MIB:.2f} MiB")
    assert result.size == 50 * MIB
    assert peak < 10 * MIB
