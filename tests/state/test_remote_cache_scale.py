"""Replacing the remote cache with a large listing streams it: memory stays flat."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dlsync.model import Fingerprint, RelPath, RemoteItem, path_key
from dlsync.state import StateReader, StateStore, running_writer

ROWS = 100_000


async def _listing(count: int) -> AsyncIterator[RemoteItem]:
    for i in range(count):
        yield RemoteItem(item_id=f"{i:024x}", path=RelPath(f"d{i % 97}/f{i:07}.jpg"), size=i,
                         fingerprint=Fingerprint(f"{i:064x}", i), annotations_hash=None)


@pytest.mark.slow
async def test_large_listing_is_replaced_and_streamed(store: StateStore, pair: int,
                                                      db_path: Path) -> None:
    """100k rows are stored and read back in key order with peak memory far below the data."""
    tracemalloc.start()
    try:
        started = time.perf_counter()
        async with running_writer(store) as writer:
            assert await writer.replace_remote_items(pair, _listing(ROWS)) == ROWS
        written = time.perf_counter() - started
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        started = time.perf_counter()
        previous, count = b"", 0
        with StateReader(db_path) as reader:
            for item in reader.remote_items(pair):
                key = path_key(item.path)
                assert key > previous
                previous, count = key, count + 1
        read = time.perf_counter() - started
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"\nremote cache {ROWS} rows: replace {written:.2f} s, peak {write_peak / 1e6:.1f} MB; "
          f"stream {read:.2f} s, peak {read_peak / 1e6:.1f} MB")
    assert count == ROWS
    # 100k RemoteItems held at once take well over 30 MB; streaming keeps a few chunks.
    assert write_peak < 8e6 and read_peak < 8e6
