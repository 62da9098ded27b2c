"""Time and memory of replacing a pair's remote cache with a large listing, then streaming it.

Run: .venv/bin/python bench/state_remote_cache.py [ROWS]
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio

from dlsync.model import Fingerprint, RelPath, RemoteItem
from dlsync.state import PairSpec, StateReader, StateStore, running_writer


async def _listing(count: int) -> AsyncIterator[RemoteItem]:
    for i in range(count):
        yield RemoteItem(item_id=f"{i:024x}", path=RelPath(f"d{i % 97}/f{i:07}.jpg"), size=i,
                         fingerprint=Fingerprint(f"{i:064x}", i), annotations_hash=None)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main(rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "state.db"
        with StateStore.open(db) as store:
            pair = store.register_pair(PairSpec("bench", tmp, "local", "P", "D", "/"))
            before = _rss_mb()
            for label in ("first", "replace"):
                started = time.perf_counter()
                async with running_writer(store) as writer:
                    await writer.replace_remote_items(pair, _listing(rows))
                elapsed = time.perf_counter() - started
                print(f"{label:8} {rows} rows: {elapsed:.2f} s ({rows / elapsed:,.0f} rows/s), "
                      f"max RSS {_rss_mb():.0f} MB (+{_rss_mb() - before:.0f})")
            started = time.perf_counter()
            with StateReader(db) as reader:
                count = sum(1 for _ in reader.remote_items(pair))
            elapsed = time.perf_counter() - started
            print(f"stream   {count} rows: {elapsed:.2f} s ({count / elapsed:,.0f} rows/s), "
                  f"max RSS {_rss_mb():.0f} MB; database {db.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    anyio.run(main, int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
