"""The settler on real files under the fake clock: what is ready when, and how often it stats."""

from __future__ import annotations

import os
from pathlib import Path

from dlsync.service.settle import Look, Ready, Settler, look
from tests.fakeclock import FakeClock

SETTLE = 1.0
TICK = 0.1


class CountingLook:
    """``look`` under a root, counting the stats per relative path."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.stats: dict[str, int] = {}

    def __call__(self, rel: str) -> Look:
        self.stats[rel] = self.stats.get(rel, 0) + 1
        return look(str(self.root / rel))


def write(root: Path, rel: str, data: bytes, clock: FakeClock) -> None:
    """Write ``data`` at ``rel`` with the fake clock's wall time as its mtime."""
    path = root / rel
    path.write_bytes(data)
    stamp = int(clock.wall() * 1e9)
    os.utime(path, ns=(stamp, stamp))


def ticks(settler: Settler, at: CountingLook, clock: FakeClock, seconds: float) -> list[str]:
    """Check every tick for ``seconds``; the files found ready, in order."""
    ready: list[str] = []
    for _ in range(round(seconds / TICK)):
        ready.extend(settler.check(at, limit=10_000).files)
        clock.advance(TICK)
    return ready


def test_a_burst_is_stated_twice_per_file_not_once_per_tick(tmp_path: Path) -> None:
    clock = FakeClock()
    settler = Settler(SETTLE, clock)
    names = [f"f{n:03}.bin" for n in range(200)]
    for name in names:
        write(tmp_path, name, b"x", clock)
    settler.note(names)
    at = CountingLook(tmp_path)

    ready = ticks(settler, at, clock, 3 * SETTLE)

    assert sorted(ready) == names
    assert set(at.stats.values()) == {2}, "one look to see the stat, one to find it unchanged"
    assert not settler.pending


def test_a_file_written_again_waits_for_quiet_again(tmp_path: Path) -> None:
    clock = FakeClock()
    settler = Settler(SETTLE, clock)
    write(tmp_path, "grow.bin", b"a", clock)
    settler.note(["grow.bin"])
    at = CountingLook(tmp_path)

    assert ticks(settler, at, clock, 0.5) == []
    write(tmp_path, "grow.bin", b"ab", clock)            # written again half-way through
    assert ticks(settler, at, clock, 0.9) == [], "ready only a full settle after the last write"
    assert ticks(settler, at, clock, 0.3) == ["grow.bin"]


def test_an_old_file_is_ready_on_its_second_look(tmp_path: Path) -> None:
    clock = FakeClock()
    settler = Settler(SETTLE, clock)
    write(tmp_path, "old.bin", b"a", clock)
    clock.advance(5.0)
    settler.note(["old.bin"])
    at = CountingLook(tmp_path)

    assert settler.check(at, limit=10).files == ()        # first look: its stat
    assert settler.check(at, limit=10).files == ("old.bin",)
    assert at.stats == {"old.bin": 2}


def test_gone_paths_and_folders_come_back_at_once(tmp_path: Path) -> None:
    clock = FakeClock()
    settler = Settler(SETTLE, clock)
    (tmp_path / "folder").mkdir()
    settler.note(["folder", "missing.bin"])

    ready = settler.check(CountingLook(tmp_path), limit=10)

    assert ready.dirs == ("folder",)
    assert ready.gone == ("missing.bin",)
    assert not settler.pending


def test_a_check_of_given_paths_looks_at_those_only(tmp_path: Path) -> None:
    clock = FakeClock()
    settler = Settler(SETTLE, clock)
    for name in ("a.bin", "b.bin"):
        write(tmp_path, name, b"x", clock)
    settler.note(["a.bin", "b.bin"])
    at = CountingLook(tmp_path)

    assert settler.check(at, limit=10, paths=["a.bin", "not-noted.bin"]) == Ready()
    assert at.stats == {"a.bin": 1}


def test_a_waiting_file_noted_again_is_looked_at_on_the_next_check(tmp_path: Path) -> None:
    clock = FakeClock()
    settler = Settler(SETTLE, clock)
    write(tmp_path, "brief.bin", b"x", clock)
    settler.note(["brief.bin"])
    at = CountingLook(tmp_path)
    assert settler.check(at, limit=10) == Ready()        # seen, not due again for a second

    (tmp_path / "brief.bin").unlink()
    clock.advance(TICK)
    assert settler.check(at, limit=10) == Ready(), "not due: not looked at"
    settler.note(["brief.bin"])                            # the watcher's event for the delete
    assert settler.check(at, limit=10) == Ready(gone=("brief.bin",))
    assert at.stats == {"brief.bin": 2}


def test_next_due_is_when_the_earliest_file_could_be_ready(tmp_path: Path) -> None:
    """Nothing waiting: no due time. A path not looked at yet is due at once; after its first
    look, a fresh file is due ``settle`` after its mtime, and a long-quiet one (a folder moved
    in) at once, so the service looks again after a relook rather than a whole tick."""
    clock = FakeClock()
    settler = Settler(SETTLE, clock)
    assert settler.next_due() is None
    write(tmp_path, "fresh.bin", b"x", clock)
    settler.note(["fresh.bin"])
    assert settler.next_due() == clock.monotonic()
    at = CountingLook(tmp_path)

    settler.check(at, limit=10)
    assert settler.next_due() == clock.monotonic() + SETTLE

    clock.advance(5.0)
    write(tmp_path, "old.bin", b"y", clock)
    clock.advance(5.0)                       # old.bin has been quiet for five settles
    settler.note(["old.bin"])
    settler.check(at, limit=10, paths=["old.bin"])
    assert settler.next_due() is not None and settler.next_due() <= clock.monotonic()
    assert settler.check(at, limit=10).files == ("fresh.bin", "old.bin")
    assert settler.next_due() is None
