"""Large uploads: no read timeout while bytes move, a stall detector, no blind re-send.

The gate keeps blobs on disk here (``data_dir``), and the big files are sparse, so neither side
holds 200 MiB in memory.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from dlsync.errors import TransportError
from dlsync.gate.faults import FaultSettings
from dlsync.gate.server import GateOptions, RunningGate
from dlsync.remote.client import DataloopClient
from dlsync.remote.credentials import Credentials
from dlsync.remote.settings import RemoteSettings
from dlsync.remote.types import DatasetJson, UploadOp
from tests.conftest import GateFactory
from tests.remote.conftest import EMAIL, settings_for, unique
from tests.remote.network import silent_server

MIB = 1 << 20
UPLOAD_ROUTE = "POST /datasets/{id}/items"


def sparse(path: Path, size: int) -> Path:
    """A file of ``size`` zero bytes that takes no disk space (and no memory to write)."""
    with path.open("wb") as out:
        out.truncate(size)
    return path


@pytest.fixture
async def disk_gate(gate_factory: GateFactory, tmp_path: Path) -> RunningGate:
    """A gate that stores uploaded bytes on disk."""
    return await gate_factory(GateOptions(data_dir=tmp_path / "gate"))


async def _client(gate: RunningGate, **kw: Any) -> tuple[DataloopClient, DatasetJson]:
    client = DataloopClient(settings_for(gate, **kw),
                            Credentials(gate.mint_token(email=EMAIL, ttl=3600)))
    await client.__aenter__()
    project = await client.get_project(unique("big"), create=True)
    return client, await client.get_dataset(project["id"], unique("big"), create=True)


@pytest.fixture
async def opened() -> AsyncIterator[list[DataloopClient]]:
    """Clients a test opened with ``_client``; closed after it."""
    clients: list[DataloopClient] = []
    yield clients
    for client in clients:
        await client.__aexit__(None, None, None)


def upload_requests(gate: RunningGate) -> int:
    """Upload requests the gate saw: answered or dropped."""
    stats = gate.stats()
    answered = sum(stats["by_route"].get(UPLOAD_ROUTE, {}).values())
    return answered + stats["dropped_before"] + stats["dropped_after"]


@pytest.mark.slow
async def test_slow_200_mib_upload_is_not_cut_off_or_resent(
        disk_gate: RunningGate, opened: list[DataloopClient], tmp_path: Path) -> None:
    """A 200 MiB upload held to 100 MiB/s takes about 2 s, several times the 0.5 s stall
    timeout: it is sent once and succeeds, because bytes keep moving (no read timeout cuts it
    off)."""
    client, dataset = await _client(disk_gate, stall_timeout=0.5, bwlimit=100.0 * MIB)
    opened.append(client)
    big = sparse(tmp_path / "big.bin", 200 * MIB)
    disk_gate.reset_stats()
    started = time.monotonic()
    result = await client.upload(dataset["id"], big, "/big.bin")
    elapsed = time.monotonic() - started
    assert result.size == 200 * MIB and result.op is UploadOp.CREATED
    assert elapsed > 3 * 0.5
    assert upload_requests(disk_gate) == 1
    assert client.pacer.stats().transport_errors == 0


async def test_large_upload_dropped_after_apply_is_looked_up_not_resent(
        disk_gate: RunningGate, opened: list[DataloopClient], tmp_path: Path) -> None:
    """The connection of an upload above blind_retry_max_size drops after the gate stored it:
    dlsync looks the item up, finds it complete, and sends the body exactly once."""
    client, dataset = await _client(disk_gate, blind_retry_max_size=1 * MIB)
    opened.append(client)
    local = sparse(tmp_path / "f.bin", 3 * MIB)
    disk_gate.set_faults(FaultSettings(drop_rate=1.0, drop_after_share=1.0,
                                       routes=(UPLOAD_ROUTE,)))
    disk_gate.reset_stats()
    result = await client.upload(dataset["id"], local, "/f.bin", metadata={"user": {"k": 1}})
    disk_gate.set_faults(FaultSettings())
    assert result.op is UploadOp.CREATED and result.size == 3 * MIB
    assert disk_gate.stats()["dropped_after"] == 1
    assert upload_requests(disk_gate) == 1
    assert (await client.get_item_by_path(dataset["id"], "/f.bin"))["id"] == result.item["id"]


async def test_large_overwrite_dropped_after_apply_is_looked_up_not_resent(
        disk_gate: RunningGate, opened: list[DataloopClient], tmp_path: Path) -> None:
    """An overwrite that landed is told from one that did not by the item's updatedAt."""
    client, dataset = await _client(disk_gate, blind_retry_max_size=1 * MIB)
    opened.append(client)
    first = await client.upload(dataset["id"], sparse(tmp_path / "a.bin", 2 * MIB), "/o.bin")
    disk_gate.set_faults(FaultSettings(drop_rate=1.0, drop_after_share=1.0,
                                       routes=(UPLOAD_ROUTE,)))
    disk_gate.reset_stats()
    result = await client.upload(dataset["id"], sparse(tmp_path / "b.bin", 2 * MIB), "/o.bin",
                                 mode="overwrite")
    disk_gate.set_faults(FaultSettings())
    assert result.op is UploadOp.OVERWRITE and result.item["id"] == first.item["id"]
    assert upload_requests(disk_gate) == 1


async def test_large_upload_dropped_before_apply_is_sent_again(
        disk_gate: RunningGate, opened: list[DataloopClient], tmp_path: Path) -> None:
    """When the dropped attempt left nothing behind, the upload is sent again and succeeds."""
    client, dataset = await _client(disk_gate, blind_retry_max_size=1 * MIB)
    opened.append(client)
    # seed 1: the first upload is dropped (before the gate reads it), the second goes through
    disk_gate.set_faults(FaultSettings(drop_rate=0.5, drop_after_share=0.0, seed=1,
                                       routes=(UPLOAD_ROUTE,)))
    disk_gate.reset_stats()
    result = await client.upload(dataset["id"], sparse(tmp_path / "d.bin", 2 * MIB), "/d.bin")
    disk_gate.set_faults(FaultSettings())
    assert result.op is UploadOp.CREATED
    assert disk_gate.stats()["dropped_before"] == 1
    assert upload_requests(disk_gate) == 2


async def test_stalled_upload_fails_after_stall_timeout(tmp_path: Path) -> None:
    """A remote that stops reading the body: after stall_timeout without a byte moving the
    attempt fails as a transport error that says nothing was applied."""
    async with silent_server() as url:
        settings = RemoteSettings(url=url, stall_timeout=0.3, max_attempts=1)
        async with DataloopClient(settings, Credentials("t")) as client:
            started = time.monotonic()
            with pytest.raises(TransportError, match=r"no byte moved for 0\.3 s") as caught:
                await client.upload("ds1", sparse(tmp_path / "s.bin", 64 * MIB), "/s.bin")
            assert time.monotonic() - started < 5
    assert "nothing was applied" in str(caught.value)
