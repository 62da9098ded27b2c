"""A remote-cache replacement that outlasts the writer's flush deadline still completes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio

from dlsync.model import RemoteItem
from dlsync.state import StateReader, StateStore, running_writer
from dlsync.state.ops import UpsertFile
from tests.state.samples import paths, record, remote

FLUSH_S = 0.05
DEADLINE_S = 10.0


async def _slow_listing(names: list[str]) -> AsyncIterator[RemoteItem]:
    """A listing whose pages arrive slower than the writer's flush deadline, like a big dataset."""
    for name in names:
        yield remote(name)
        await anyio.sleep(FLUSH_S * 2)  # the delay under test: each page outlasts the deadline


async def test_replacement_outlasting_the_flush_deadline(store: StateStore, pair: int,
                                                         db_path: Path) -> None:
    """An operation pending before a slow listing does not cut the listing short or hang it."""
    async with running_writer(store, batch=1000, flush_s=FLUSH_S) as writer:
        await writer.send(UpsertFile(pair, record("pending")))
        with anyio.fail_after(DEADLINE_S):
            count = await writer.replace_remote_items(pair, _slow_listing(["a", "b", "c"]))
    assert count == 3
    with StateReader(db_path) as reader:
        assert paths(reader.remote_items(pair)) == ["a", "b", "c"]
        assert paths(reader.files(pair)) == ["pending"]
