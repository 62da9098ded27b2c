"""The single writer task: batching, time-based commits, flush, remote cache, failures."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from dlsync.errors import DiskFullError
from dlsync.model import RemoteChange, RemoteItem
from dlsync.state import StateReader, StateStore, running_writer
from dlsync.state.database import raw_connect
from dlsync.state.ops import UpsertFile
from dlsync.state.store import ListingMark
from tests.state.samples import SPEC, paths, record, remote

DEADLINE_S = 10.0


async def _until_files(db_path: Path, pair: int, count: int) -> None:
    """Poll the database (read side) until ``count`` files are committed, within the deadline."""
    with StateReader(db_path) as reader, anyio.fail_after(DEADLINE_S):
        while sum(1 for _ in reader.files(pair)) < count:
            await anyio.sleep(0.01)


def _committed(db_path: Path, pair: int) -> list[str]:
    with StateReader(db_path) as reader:
        return [str(p) for p in paths(reader.files(pair))]


async def test_full_batch_commits_without_flush(store: StateStore, pair: int,
                                                db_path: Path) -> None:
    """Reaching ``batch`` pending operations commits them; a partial batch waits."""
    async with running_writer(store, batch=3, flush_s=3600.0) as writer:
        for name in ("a", "b", "c", "d"):
            await writer.send(UpsertFile(pair, record(name)))
        await _until_files(db_path, pair, 3)
        assert _committed(db_path, pair) == ["a", "b", "c"]
        assert writer.commits == 1
    assert _committed(db_path, pair) == ["a", "b", "c", "d"]


async def test_time_commits_a_partial_batch(store: StateStore, pair: int,
                                            db_path: Path) -> None:
    """A lone operation is committed ``flush_s`` after it arrived, without a flush."""
    async with running_writer(store, batch=1000, flush_s=0.05) as writer:
        await writer.send(UpsertFile(pair, record("only")))
        await _until_files(db_path, pair, 1)
        assert writer.commits == 1


async def test_flush_commits_everything_sent(store: StateStore, pair: int,
                                             db_path: Path) -> None:
    """After ``flush()`` every operation sent before it is visible to readers, in one commit."""
    async with running_writer(store, batch=1000, flush_s=3600.0) as writer:
        for i in range(50):
            await writer.send(UpsertFile(pair, record(f"f{i:02}")))
        await writer.flush()
        assert len(_committed(db_path, pair)) == 50
        assert writer.commits == 1
        await writer.flush()
        assert writer.commits == 1  # nothing pending: no empty transaction


async def test_cancellation_still_commits_pending(store: StateStore, pair: int,
                                                  db_path: Path) -> None:
    """Operations sent before the writer's task group is cancelled are committed."""
    with anyio.CancelScope() as scope:
        async with running_writer(store, batch=1000, flush_s=3600.0) as writer:
            await writer.send(UpsertFile(pair, record("sent")))
            scope.cancel()
            await anyio.sleep_forever()
    assert _committed(db_path, pair) == ["sent"]


async def _listing(names: list[str], fail_after: int | None = None) -> AsyncIterator[RemoteItem]:
    for i, name in enumerate(names):
        if fail_after is not None and i == fail_after:
            raise ConnectionResetError("listing interrupted")
        yield remote(name)
        await anyio.lowlevel.checkpoint()


async def test_remote_cache_replacement(store: StateStore, pair: int, db_path: Path) -> None:
    """The cache is replaced wholesale; a listing that fails keeps the previous cache."""
    async with running_writer(store) as writer:
        assert await writer.replace_remote_items(pair, _listing(["x", "y"])) == 2
        assert await writer.replace_remote_items(pair, _listing(["b", "a"])) == 2
        with pytest.raises(ConnectionResetError):
            names = [f"q{i}" for i in range(3000)]
            await writer.replace_remote_items(pair, _listing(names, fail_after=2500))
        await writer.send(UpsertFile(pair, record("still-writing")))
    with StateReader(db_path) as reader:
        assert paths(reader.remote_items(pair)) == ["a", "b"]
    assert _committed(db_path, pair) == ["still-writing"]


async def _changes(changes: list[tuple[str, str | None]]) -> AsyncIterator[RemoteChange]:
    for item_id, name in changes:
        yield RemoteChange(item_id, None if name is None else remote(name, item_id=item_id))
        await anyio.lowlevel.checkpoint()


async def test_remote_cache_merge(store: StateStore, pair: int, db_path: Path) -> None:
    """A merge moves, adds and drops rows by item id and counts the items new to the cache;
    the seal's refusal rolls it back whole, and the mark is recorded with the rows."""
    mark = ListingMark("2026-01-01T00:00:00.000Z", 2, 100.0, "{}")
    seen: list[int] = []

    def refuse(new: int) -> ListingMark | None:
        seen.append(new)
        return None

    async with running_writer(store) as writer:
        await writer.replace_remote_items(pair, _listing(["a", "b"]), lambda rows: mark)
        moved = [("id-a", "c"), ("new", "d"), ("id-b", None)]
        assert await writer.merge_remote_items(pair, _changes(moved), refuse) is None
        assert seen == [1]
        with StateReader(db_path) as reader:
            assert paths(reader.remote_items(pair)) == ["a", "b"]
            assert reader.listing_mark(pair) == mark
        later = ListingMark("2026-01-02T00:00:00.000Z", 3, 100.0, "{}")
        assert await writer.merge_remote_items(pair, _changes(moved), lambda new: later) == 3
    with StateReader(db_path) as reader:
        assert [(i.item_id, i.path) for i in reader.remote_items(pair)] == [
            ("id-a", "c"), ("new", "d")]
        assert reader.listing_mark(pair) == later


def _small_disk(pages: int) -> object:
    """A connection factory whose database cannot grow past ``pages`` pages: a real SQLITE_FULL."""
    def connect(path: Path) -> sqlite3.Connection:
        conn = raw_connect(path)
        conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn
    return connect


async def test_disk_full_stops_the_writer(db_path: Path) -> None:
    """SQLITE_FULL raises DiskFullError naming the database; the failed batch is not recorded."""
    with StateStore.open(db_path, connect=_small_disk(40)) as store:  # type: ignore[arg-type]
        pair = store.register_pair(SPEC)
        with pytest.raises(DiskFullError) as caught:
            async with running_writer(store, batch=100, flush_s=3600.0) as writer:
                await writer.send(UpsertFile(pair, record("small")))
                await writer.flush()
                for i in range(100):
                    await writer.send(UpsertFile(pair, record(f"big{i}", error="x" * 8000)))
                await writer.flush()
        assert str(db_path) in str(caught.value)
        assert isinstance(writer.failure, DiskFullError)
        with pytest.raises(DiskFullError):
            await writer.send(UpsertFile(pair, record("after")))
    assert _committed(db_path, pair) == ["small"]


async def test_disk_full_during_flush_wakes_the_flusher(db_path: Path) -> None:
    """A commit that a flush triggers and that fails raises DiskFullError from that flush."""
    with StateStore.open(db_path, connect=_small_disk(40)) as store:  # type: ignore[arg-type]
        pair = store.register_pair(SPEC)
        with pytest.raises(DiskFullError):
            async with running_writer(store, batch=10_000, flush_s=3600.0) as writer:
                for i in range(100):
                    await writer.send(UpsertFile(pair, record(f"big{i}", error="x" * 8000)))
                with anyio.fail_after(DEADLINE_S):
                    await writer.flush()
    assert _committed(db_path, pair) == []
