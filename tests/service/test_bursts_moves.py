"""Bursts of new folders, folder renames and deletes within the grace period."""

from __future__ import annotations

import os
from pathlib import Path

from dlsync.gate.server import RunningGate
from tests.eventually import eventually
from tests.fakeclock import FakeClock
from tests.service.conftest import Platform, running, write_config


async def test_burst_of_new_folders_all_arrive_once(tmp_path: Path, gate: RunningGate,
                                                    source: Path, platform: Platform) -> None:
    """2,000 files created in 200 brand-new folders all end up remote, each exactly once."""
    config = write_config(tmp_path, gate, source)
    async with running(config):
        for d in range(200):
            folder = source / f"d{d:03}"
            folder.mkdir()
            for f in range(10):
                (folder / f"f{f}.txt").write_bytes(f"{d}/{f}".encode())
        items = await platform.wait_for(lambda found: len(found) >= 2000, timeout=100)
    assert len(items) == 2000
    assert platform.uploads() == 2000


async def test_folder_rename_becomes_moves(tmp_path: Path, gate: RunningGate, source: Path,
                                           platform: Platform) -> None:
    """A renamed folder keeps its item ids and uploads nothing (deletes off)."""
    (source / "old").mkdir()
    for n in range(20):
        (source / "old" / f"{n}.txt").write_bytes(f"content {n}".encode())
    config = write_config(tmp_path, gate, source)
    async with running(config):
        before = await platform.wait_for(lambda found: len(found) == 20)
        ids = {name.rsplit("/", 1)[1]: item["id"] for name, item in before.items()}
        uploads = platform.uploads()
        os.rename(source / "old", source / "new")
        after = await platform.wait_for(
            lambda found: set(found) == {f"/new/{n}.txt" for n in range(20)})
    assert {name.rsplit("/", 1)[1]: item["id"] for name, item in after.items()} == ids
    assert platform.uploads() == uploads + 1   # one POST makes the folder /new; no file content


async def test_copies_moved_in_are_new_items_and_the_originals_stay(
        tmp_path: Path, gate: RunningGate, source: Path, platform: Platform) -> None:
    """A folder of copies of tracked files, moved in with one rename, becomes new items; the
    originals keep theirs (a copy is a move only when its original is gone)."""
    (source / "orig").mkdir()
    for n in range(10):
        (source / "orig" / f"{n}.txt").write_bytes(f"content {n}".encode())
    config = write_config(tmp_path, gate, source)
    async with running(config):
        before = await platform.wait_for(lambda found: len(found) == 10)
        staged = tmp_path / "staged"
        staged.mkdir()
        for n in range(10):
            (staged / f"{n}.txt").write_bytes(f"content {n}".encode())
        staged.rename(source / "copies")
        after = await platform.wait_for(lambda found: len(found) == 20)
    assert {name: after[name]["id"] for name in before} == \
        {name: item["id"] for name, item in before.items()}
    assert {name for name in after if name.startswith("/copies/")} == \
        {f"/copies/{n}.txt" for n in range(10)}


async def test_delete_and_restore_within_grace_keeps_item(
        tmp_path: Path, gate: RunningGate, source: Path, platform: Platform) -> None:
    """A file deleted and restored within delete_grace is never deleted remotely; the one not
    restored is deleted once its grace has passed on the clock.

    A third file stays throughout: a source emptied of every tracked file would pause the pair
    (it looks unmounted), which ``test_pause.py`` covers.
    """
    (source / "keep.txt").write_bytes(b"precious")
    (source / "other.txt").write_bytes(b"gone for good")
    (source / "stays.txt").write_bytes(b"anchor")
    clock = FakeClock()
    clock.advance(1.0)           # the three files have been quiet for longer than settle
    config = write_config(tmp_path, gate, source, delete=True, delete_grace=2.0)
    async with running(config, clock=clock) as daemon:
        before = await platform.wait_for(lambda found: len(found) == 3)
        (source / "keep.txt").rename(tmp_path / "aside.txt")
        (source / "other.txt").unlink()
        held = daemon.pairs[0].hold.until
        await eventually(lambda: {"keep.txt", "other.txt"} <= set(held))   # grace has begun
        clock.advance(0.5)       # the user's pause before restoring, well inside the grace
        (tmp_path / "aside.txt").rename(source / "keep.txt")
        after = await platform.wait_for(lambda found: "/other.txt" not in found,
                                        meanwhile=lambda: clock.advance(0.1))
    assert after["/keep.txt"]["id"] == before["/keep.txt"]["id"]
    assert set(after) == {"/keep.txt", "/stays.txt"}
