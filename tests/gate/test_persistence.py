"""A gate on a data directory keeps items, annotations, contents and id order across restarts."""

from __future__ import annotations

import gc
from pathlib import Path

import aiohttp
import pytest

from dlsync.gate.server import GateOptions, RunningGate, start_gate
from tests.conftest import GateFactory
from tests.gate.conftest import GateApi


def _api(session: aiohttp.ClientSession, gate: RunningGate) -> GateApi:
    return GateApi(session, gate.url)


async def test_restart_on_same_data_dir_keeps_everything(
    gate_factory: GateFactory, tmp_path: Path
) -> None:
    """Items, annotations and blobs survive a restart; new ids are larger than old ones."""
    first = await gate_factory(GateOptions(data_dir=tmp_path))
    token = first.mint_token()
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        api = _api(session, first)
        dataset_id = await api.new_dataset("kept")
        _, _, item = await api.upload(dataset_id, "/p/a.jpg", b"persisted bytes")
        await api.ok("POST", f"/items/{item['id']}/annotations",
                     json=[{"type": "class", "label": "cat"}])
    await first.close()

    second = await gate_factory(GateOptions(data_dir=tmp_path))
    async with aiohttp.ClientSession(headers=headers) as session:
        api = _api(session, second)
        again = await api.ok("GET", f"/items/{item['id']}")
        assert again["filename"] == "/p/a.jpg" and again["annotationsCount"] == 1
        async with session.get(f"{second.url}/items/{item['id']}/stream") as response:
            assert await response.read() == b"persisted bytes"
        _, _, newer = await api.upload(dataset_id, "/p/b.jpg")
        assert newer["id"] > item["id"]
    assert {"blobs", "gate.db", "secret"} <= {p.name for p in tmp_path.iterdir()}


async def test_stream_from_directory_blobs_honours_range(
    gate_factory: GateFactory, tmp_path: Path
) -> None:
    """Content stored as files is streamed with Range support too."""
    gate = await gate_factory(GateOptions(data_dir=tmp_path))
    async with aiohttp.ClientSession(
        headers={"Authorization": f"Bearer {gate.mint_token()}"}
    ) as session:
        api = _api(session, gate)
        dataset_id = await api.new_dataset()
        _, _, item = await api.upload(dataset_id, "/r.bin", b"abcdefgh")
        async with session.get(f"{gate.url}/items/{item['id']}/stream",
                               headers={"Range": "bytes=5-"}) as response:
            assert response.status == 206 and await response.read() == b"fgh"


async def test_gate_that_cannot_listen_closes_its_database(
    gate_factory: GateFactory, tmp_path: Path
) -> None:
    """A port already taken fails the start and releases the data directory's database."""
    first = await gate_factory(GateOptions(data_dir=tmp_path / "first"))
    with pytest.raises(OSError):
        await start_gate(GateOptions(port=first.port, data_dir=tmp_path / "second"))
    gc.collect()   # an unclosed connection would surface here as an unraisable ResourceWarning
    again = await gate_factory(GateOptions(data_dir=tmp_path / "second"))
    assert again.port != first.port
