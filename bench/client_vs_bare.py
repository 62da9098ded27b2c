"""Upload throughput: DataloopClient against a bare aiohttp loop, same gate, same run.

Starts ``dlsync gate serve --port 0 --memory`` as a subprocess, writes N files of 16 KiB, and
uploads them at concurrency 32 (a) with one aiohttp session, a semaphore and a multipart POST per
file, no bookkeeping, and (b) with DataloopClient (pacer rate high enough not to limit), each into
its own dataset. Rounds alternate bare/client; the best round of each is compared.

    .venv/bin/python bench/client_vs_bare.py [--files 2000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from dlsync.remote.client import DataloopClient
from dlsync.remote.credentials import Credentials
from dlsync.remote.settings import RemoteSettings

CONCURRENCY = 32
SIZE = 16 * 1024
URL = re.compile(r"(https?://[^\s'\"]+/api/v1)")
JWT = re.compile(r"(eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)")


def start_gate() -> tuple[subprocess.Popen[str], str, str]:
    """The gate subprocess, its API URL and the token it printed."""
    proc = subprocess.Popen([sys.executable, "-m", "dlsync", "gate", "serve", "--port", "0",
                             "--memory"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    assert proc.stdout is not None
    url = token = None
    while url is None or token is None:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("the gate exited before printing its URL and token")
        url = url or (m.group(1) if (m := URL.search(line)) else None)
        token = token or (m.group(1) if (m := JWT.search(line)) else None)
    return proc, url, token


@dataclass(frozen=True)
class Rate:
    """Items per second (wall clock) and this process's CPU microseconds per item."""

    items_per_s: float
    cpu_us_per_item: float

    def __str__(self) -> str:
        return f"{self.items_per_s:.0f}/s ({self.cpu_us_per_item:.0f} us cpu/item)"


async def measure(count: int, work: Awaitable[object]) -> Rate:
    """Run ``work`` and rate it over ``count`` items."""
    wall, cpu = time.perf_counter(), time.process_time()
    await work
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return Rate(count / wall, cpu / count * 1e6)


def write_files(root: Path, count: int) -> list[Path]:
    """``count`` files of 16 KiB with distinct content."""
    paths = []
    for n in range(count):
        path = root / f"f{n:05d}.bin"
        path.write_bytes(n.to_bytes(4, "big") * (SIZE // 4))
        paths.append(path)
    return paths


async def bare(url: str, token: str, dataset_id: str, files: list[Path]) -> Rate:
    """Items/s of a plain aiohttp loop: one session, semaphore 32, one multipart POST per file."""
    limit = asyncio.Semaphore(CONCURRENCY)
    headers = {"authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:

        async def one(path: Path) -> None:
            async with limit:
                with path.open("rb") as handle:
                    form = aiohttp.FormData()
                    form.add_field("type", "file")
                    form.add_field("path", f"/bench/{path.name}")
                    form.add_field("file", handle, filename=path.name)
                    async with session.post(f"{url}/datasets/{dataset_id}/items",
                                            params={"mode": "skip"}, data=form,
                                            headers=headers) as resp:
                        resp.raise_for_status()
                        await resp.json()

        return await measure(len(files), asyncio.gather(*(one(p) for p in files)))


async def client(dl: DataloopClient, dataset_id: str, files: list[Path]) -> Rate:
    """Items/s of DataloopClient.upload from 32 concurrent callers."""
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(path: Path) -> None:
        async with limit:
            await dl.upload(dataset_id, path, f"/bench/{path.name}")

    return await measure(len(files), asyncio.gather(*(one(p) for p in files)))


async def main(count: int, rounds: int) -> None:
    """Run the rounds and print items/s of each side and their ratio."""
    proc, url, token = start_gate()
    settings = RemoteSettings(url=url, rate=1e6, burst=1_000_000, concurrency=CONCURRENCY)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            files = write_files(Path(tmp), count)
            async with DataloopClient(settings, Credentials(token)) as dl:
                project = await dl.get_project(f"bench-{uuid.uuid4().hex[:8]}", create=True)

                async def fresh() -> str:
                    ds = await dl.get_dataset(project["id"], uuid.uuid4().hex[:8], create=True)
                    return ds["id"]

                bare_rates, client_rates = [], []
                for _ in range(rounds):
                    bare_rates.append(await bare(url, token, await fresh(), files))
                    client_rates.append(await client(dl, await fresh(), files))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    best_bare = max(r.items_per_s for r in bare_rates)
    best_client = max(r.items_per_s for r in client_rates)
    print(f"files={count} size=16KiB concurrency={CONCURRENCY} rounds={rounds}")
    print("bare aiohttp  : " + ", ".join(map(str, bare_rates)))
    print("DataloopClient: " + ", ".join(map(str, client_rates)))
    print(f"best: bare {best_bare:.0f} items/s, client {best_client:.0f} items/s, "
          f"ratio {best_client / best_bare:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.files, args.rounds))
