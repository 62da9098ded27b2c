"""How the event loop should write files: one worker-thread hop per file, anyio's async file
object, or aiofiles, measured on the two writes a pull makes.

- annotation files: ``pull.files.write_atomically`` (temp file, write, fsync, rename) run with one
  ``anyio.to_thread.run_sync`` per file, against the same steps through aiofiles (one hop per
  call: open, write, flush, fsync, replace);
- download part files: 16 chunks of 64 KiB appended and fsync'ed through ``anyio.open_file``
  (what ``pull.download`` uses), against aiofiles.

    python bench/async_files.py [--files 2000] [--rounds 3]

Prints the median wall time and CPU time of each way, and their ratio. aiofiles is imported
only here (``pip install aiofiles``); dlsync itself does not depend on it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import anyio.to_thread

from dlsync.pull.files import write_atomically

DATA = b'{"annotations": [' + b'{"type": "box", "label": "car"},' * 40 + b'{}]}\n'
CHUNK = b"x" * (64 << 10)
CHUNKS = 16


async def atomic_thread(folder: Path, count: int) -> None:
    for i in range(count):
        await anyio.to_thread.run_sync(write_atomically, folder / f"{i}.json", DATA)


async def atomic_aiofiles(folder: Path, count: int) -> None:
    import aiofiles
    import aiofiles.os

    for i in range(count):
        temp = folder / f".dlsync-{i}.tmp"
        async with aiofiles.open(temp, "wb") as handle:
            await handle.write(DATA)
            await handle.flush()
            await anyio.to_thread.run_sync(os.fsync, handle.fileno())
        await aiofiles.os.replace(temp, folder / f"{i}.json")


async def part_anyio(folder: Path, count: int) -> None:
    for i in range(count):
        async with await anyio.open_file(folder / f"{i}.part", "ab") as handle:
            for _ in range(CHUNKS):
                await handle.write(CHUNK)
            await handle.flush()
            await anyio.to_thread.run_sync(os.fsync, handle.wrapped.fileno())


async def part_aiofiles(folder: Path, count: int) -> None:
    import aiofiles

    for i in range(count):
        async with aiofiles.open(folder / f"{i}.part", "ab") as handle:
            for _ in range(CHUNKS):
                await handle.write(CHUNK)
            await handle.flush()
            await anyio.to_thread.run_sync(os.fsync, handle.fileno())


Way = Callable[[Path, int], Awaitable[None]]


def measure(way: Way, count: int) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``way`` into a fresh folder."""
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as folder:
        wall, cpu = time.perf_counter(), time.process_time()
        anyio.run(way, Path(folder), count)
        return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    pairs = (("annotation file", atomic_thread, atomic_aiofiles),
             ("download part", part_anyio, part_aiofiles))
    for name, ours, theirs in pairs:
        runs = {"dlsync": [], "aiofiles": []}
        for _ in range(args.rounds):
            runs["dlsync"].append(measure(ours, args.files))
            runs["aiofiles"].append(measure(theirs, args.files))
        wall = {k: statistics.median(w for w, _ in v) for k, v in runs.items()}
        cpu = {k: statistics.median(c for _, c in v) for k, v in runs.items()}
        print(f"{name}: dlsync {wall['dlsync']:.2f} s wall, "
              f"{cpu['dlsync'] / args.files * 1e6:.0f} us CPU per file; aiofiles "
              f"{wall['aiofiles']:.2f} s wall, {cpu['aiofiles'] / args.files * 1e6:.0f} us CPU "
              f"per file; aiofiles / dlsync wall {wall['aiofiles'] / wall['dlsync']:.2f}")


if __name__ == "__main__":
    main()
