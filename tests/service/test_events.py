"""Changes on disk reach the platform through watcher hints, settling and incremental batches."""

from __future__ import annotations

import os
from pathlib import Path

from dlsync import constants
from dlsync.gate.server import RunningGate
from tests.eventually import eventually
from tests.fakeclock import FakeClock
from tests.service.conftest import Platform, running, write_config


async def test_created_modified_annotated_files_appear(tmp_path: Path, gate: RunningGate,
                                                       source: Path, platform: Platform) -> None:
    """A created file, its new content and its new annotation file all reach the platform."""
    config = write_config(tmp_path, gate, source)
    async with running(config):
        (source / "a.txt").write_bytes(b"first")
        items = await platform.wait_for(lambda found: "/a.txt" in found)
        first_id = items["/a.txt"]["id"]
        (source / "a.txt").write_bytes(b"second version")
        await platform.wait_for(
            lambda found: found.get("/a.txt", {}).get("metadata", {}).get("system", {})
            .get("size") == len(b"second version"))
        (source / "a.txt.json").write_text(
            '{"annotations": [{"type": "class", "label": "cat", "coordinates": []}]}')
        await eventually(lambda: _labelled(platform, first_id, ["cat"]))
    items = await platform.items()
    assert set(items) == {"/a.txt"} and items["/a.txt"]["id"] == first_id


async def _labelled(platform: Platform, item_id: str, labels: list[str]) -> bool:
    return await platform.labels(item_id) == labels


async def test_file_being_written_is_uploaded_only_once_settled(
        tmp_path: Path, gate: RunningGate, source: Path, platform: Platform) -> None:
    """A file appended in chunks with pauses shorter than settle goes up once, whole.

    On the fake clock each chunk is written, the pair looks at the file again (it changed),
    then the clock moves on by the writer's pace; once the writes stop, the clock moves on
    until the file is uploaded.
    """
    config = write_config(tmp_path, gate, source, settle=0.5)
    clock = FakeClock()
    async with running(config, clock=clock) as daemon:
        pending = daemon.pairs[0].settler.pending
        path = source / "growing.bin"
        with path.open("wb") as out:
            for _ in range(8):
                out.write(b"x" * 1000)
                out.flush()
                os.fsync(out.fileno())
                # looked at since the write, and waiting to look again
                await eventually(lambda: "growing.bin" in pending and
                                 clock.waiting_at_most(constants.SETTLE_TICK_S))
                assert "/growing.bin" not in await platform.items()
                clock.advance(0.15)   # the writer's pace, shorter than settle
        items = await platform.wait_for(lambda found: "/growing.bin" in found,
                                        meanwhile=lambda: clock.advance(0.1))
    assert items["/growing.bin"]["metadata"]["system"]["size"] == 8000
    assert platform.uploads() == 1
