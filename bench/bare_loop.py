"""The fixed bare loop of the first-mirror benchmarks, callable in-process or as its own process.

One aiohttp session, 32 requests in flight, per file one multipart upload of its bytes and one
post of its boxes: no hashing, no state, no checks. The loop is fixed, so that the yardstick
dlsync is measured against cannot move. ``run_bare`` is the loop itself;
``mirror_vs_dtlpy.py``, ``event_loops.py`` and ``in_flight.py`` call it.

Run as a script, it is the loop as a whole process, so that it can be timed as ``dlsync
mirror`` is, from exec to exit (interpreter start-up, imports, opening the session and listing
the tree included). It prints one JSON line: the seconds and CPU seconds of the loop's call
alone, as the benchmarks measured it in-process before, so that one run gives both figures::

    python bench/bare_loop.py URL PROJECT DATASET IMAGES ANN   # token in DLSYNC_TOKEN

It imports only the standard library, aiohttp and ``common`` (itself the standard library and
aiohttp), so that its start-up is the least a client of this shape pays.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import common

IN_FLIGHT = 32

Stamp = Callable[[str, bytes, list[Any]], tuple[str | None, list[Any]]]
"""What a variant of the bare loop adds to one file's requests: from its path, bytes and boxes,
the upload's ``metadata`` field (or ``None``) and the boxes to post (``bench/in_flight.py``)."""


async def run_bare(gate: common.Gate, tree: common.Tree, project: str,
                   dataset: str, limit: int | None = None, *, in_flight: int = IN_FLIGHT,
                   stamp: Stamp | None = None) -> tuple[float, float]:
    """(c) Seconds and CPU seconds of a bare aiohttp loop: upload each file (the first
    ``limit`` only, when given), post its boxes. The benchmark's loop keeps the defaults;
    ``in_flight`` and ``stamp`` are for measuring what those two change."""
    assert tree.ann is not None
    auth = {"authorization": f"Bearer {gate.token}"}
    files = sorted(tree.images.rglob("*.jpg"))[:limit]
    slots = asyncio.Semaphore(in_flight)
    connector = aiohttp.TCPConnector(limit=max(64, in_flight))
    async with aiohttp.ClientSession(connector=connector) as session:
        ds = await common.dataset_id(session, gate, project, dataset)

        async def one(path: Path) -> None:
            rel = path.relative_to(tree.images).as_posix()
            async with slots:
                data = path.read_bytes()
                boxes = json.loads((tree.ann / rel).with_suffix(".json").read_text())
                metadata, annotations = stamp(rel, data, boxes["annotations"]) if stamp \
                    else (None, boxes["annotations"])
                form = aiohttp.FormData()
                form.add_field("type", "file")
                form.add_field("path", "/" + rel)
                if metadata is not None:
                    form.add_field("metadata", metadata)
                form.add_field("file", data, filename=path.name, content_type="image/jpeg")
                async with session.post(f"{gate.url}/datasets/{ds}/items",
                                        params={"mode": "skip"}, data=form,
                                        headers=auth) as resp:
                    resp.raise_for_status()
                    item = await resp.json()
                async with session.post(f"{gate.url}/items/{item['id']}/annotations",
                                        json=annotations, headers=auth) as resp:
                    resp.raise_for_status()
                    await resp.json()

        started, cpu = time.perf_counter(), common.cpu_seconds()
        await asyncio.gather(*(one(p) for p in files))
        return time.perf_counter() - started, common.cpu_seconds() - cpu


def main(argv: list[str]) -> None:
    """Run the loop once over ``IMAGES``/``ANN`` into ``PROJECT/DATASET``; print its call's
    seconds and CPU seconds as JSON."""
    url, project, dataset, images, ann = argv
    gate = common.Gate(None, url, os.environ["DLSYNC_TOKEN"], None)  # type: ignore[arg-type]
    tree = common.Tree(images=Path(images), ann=Path(ann), count=0, boxes=0)
    seconds, cpu = asyncio.run(run_bare(gate, tree, project, dataset))
    print(json.dumps({"seconds": seconds, "cpu_s": cpu}))


if __name__ == "__main__":
    main(sys.argv[1:])
