"""Benchmark: ``dlsync pull`` of a dataset's annotations, first (a checkout) and incremental.

One command: ``python bench/pull_annotations.py`` (10,000 items, 100 changed) or ``--quick``
(a smoke run). The dataset is seeded straight into a gate data directory through the gate's
store (tiny items sharing one blob, each with dlsync's fingerprint and three annotations), then a
gate subprocess serves it and ``dlsync pull`` runs as a subprocess, three times:

1. ``pull --items`` into an empty folder: every item downloaded, every annotation file written;
2. after 100 items had an annotation added, edited or deleted through the API: ``pull`` (the
   incremental pull, which asks only for what changed since the last one);
3. ``pull --full``: every item's annotations compared with the local files (nothing to write).

The figures go to the "Pull" section of docs/benchmarks.md unless ``--no-docs``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp

from dlsync.gate.server import BLOB_DIR, DATABASE_FILE
from dlsync.gate.store import Blob, Store

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
SECTION = "## Pull"
CONTENT = b"tiny item\n"
USER = "bench@dlsync.test"


def seed_blob(data_dir: Path, content: bytes) -> str:
    """Store ``content`` as a blob of the gate at ``data_dir``; its SHA-256."""
    sha = hashlib.sha256(content).hexdigest()
    blob_path = data_dir / BLOB_DIR / sha[:2] / sha
    blob_path.parent.mkdir(parents=True, exist_ok=True)
    blob_path.write_bytes(content)
    return sha


def seed(data_dir: Path, items: int) -> None:
    """A project ``bench`` with dataset ``pull``: ``items`` files with three annotations each."""
    sha = seed_blob(data_dir, CONTENT)
    with contextlib.closing(Store(data_dir / DATABASE_FILE)) as store:
        project = store.create_project("bench", USER)
        dataset = store.create_dataset({"name": "pull", "projects": [project["id"]]}, USER)
        blob = Blob(sha256=sha, size=len(CONTENT), mimetype="image/jpeg")
        paths = [f"/d{n // 1000:03d}/f{n:07d}.jpg" for n in range(items)]
        store.seed_files(dataset["id"], paths, blob, USER)
        mark = {"user": {"dlsync": {"sha256": sha, "size": len(CONTENT), "annotations": None}}}
        store.update_items_matching(dataset["id"], {"filter": {"$and": [{"type": "file"}]},
                                                    "update": {"metadata": mark}}, USER)
        annotate_every_file(store, dataset["id"])
    backdate(data_dir / DATABASE_FILE)


def annotate_every_file(store: Store, dataset_id: str) -> None:
    """Give every file of the dataset three annotations (a box, a class, a point)."""
    ids: list[str] = []
    page = 0
    while True:
        found = store.query_items(dataset_id, {
            "filter": {"$and": [{"type": "file"}]}, "pageSize": 1000, "page": page}).entities
        ids += [i["id"] for i in found]
        if len(found) < 1000:
            break
        page += 1
    for n, item_id in enumerate(ids):
        store.add_annotations(item_id, [
            {"type": "box", "label": "car", "coordinates": [{"x": n % 97, "y": 1},
                                                             {"x": 50, "y": 60}]},
            {"type": "class", "label": "day", "coordinates": []},
            {"type": "point", "label": "eye", "coordinates": {"x": 3, "y": n % 13}}], USER)


def backdate(database: Path) -> None:
    """Date every seeded row years back: the dataset was annotated before the first pull."""
    with contextlib.closing(sqlite3.connect(database)) as db, db:
        for table in ("items", "annotations"):
            db.execute(f"UPDATE {table} SET updated_at = '2000-01-01T00:00:00.000Z'")


def start_gate(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    """The gate subprocess serving ``data_dir`` and its API URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dlsync", "gate", "serve", "--port", "0", "--data",
         str(data_dir)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert process.stdout is not None
    match = re.search(r"(http://\S+/api/v1)", process.stdout.readline())
    if match is None:
        process.kill()
        raise SystemExit("the gate did not print its URL")
    return process, match.group(1)


def token_for(data_dir: Path) -> str:
    out = subprocess.run([sys.executable, "-m", "dlsync", "gate", "token", "--data",
                          str(data_dir)], check=True, capture_output=True, text=True).stdout
    found = re.search(r"(eyJ[\w-]+\.[\w-]+\.[\w-]*)", out)
    assert found is not None, out
    return found.group(1)


def run_pull(url: str, token: str, folder: Path, state: Path, *flags: str) -> dict[str, Any]:
    """One ``dlsync pull --json`` subprocess; its summary plus the wall time."""
    argv = [sys.executable, "-m", "dlsync", "--log-level", "error", "pull", str(folder),
            "--remote", url, "--project", "bench", "--dataset", "pull", "--state", str(state),
            "--json", *flags]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True,
                          env={**os.environ, "DLSYNC_TOKEN": token})
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"dlsync pull failed ({done.returncode}): {done.stdout}{done.stderr}")
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    summary["wall_s"] = wall
    return summary


async def change(url: str, token: str, count: int) -> None:
    """Add, edit or delete one annotation on each of ``count`` items, as an annotator would."""
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(f"{url}/projects/bench/name") as reply:
            project = (await reply.json())[0]["id"]
        async with session.post(f"{url}/datasets/query", json={
                "filter": {"$and": [{"name": "pull"}]}, "resource": "datasets",
                "context": {"projects": [project]}}) as reply:
            dataset = (await reply.json())["items"][0]["id"]
        async with session.post(f"{url}/datasets/{dataset}/query", json={
                "filter": {"$and": [{"type": "box"}]}, "resource": "annotations",
                "pageSize": count, "sort": {"id": "ascending"}}) as reply:
            boxes = (await reply.json())["items"]
        for n, box in enumerate(boxes):
            if n % 3 == 0:
                call = session.post(f"{url}/items/{box['itemId']}/annotations",
                                    json=[{"type": "class", "label": "night"}])
            elif n % 3 == 1:
                call = session.put(f"{url}/annotations/{box['id']}", json={"label": "bus"})
            else:
                call = session.delete(f"{url}/annotations/{box['id']}")
            async with call as reply:
                assert reply.status == 200, await reply.text()


def measure(items: int, changes: int) -> dict[str, Any]:
    """Seed, serve, pull three times; the figures."""
    with tempfile.TemporaryDirectory(prefix="dlsync-pull-bench-") as tmp:
        work = Path(tmp)
        data = work / "gate"
        data.mkdir()
        started = time.perf_counter()
        seed(data, items)
        seeded = time.perf_counter() - started
        token = token_for(data)
        process, url = start_gate(data)
        try:
            folder, state = work / "checkout", work / "state.db"
            first = run_pull(url, token, folder, state, "--items")
            asyncio.run(change(url, token, changes))
            incremental = run_pull(url, token, folder, state)
            full = run_pull(url, token, folder, state, "--full")
        finally:
            process.terminate()
            process.wait(timeout=15)
            if process.stdout is not None:
                process.stdout.close()
    return {"items": items, "changes": changes, "seed_s": seeded, "first": first,
            "incremental": incremental, "full": full}


def report(figures: dict[str, Any]) -> str:
    """The Markdown section of the figures."""
    items = figures["items"]
    rows = []
    for name, label, looked in (("first", "first pull, `--items` (checkout)", items),
                                ("incremental", "incremental pull after "
                                 f"{figures['changes']} items changed", None),
                                ("full", "`--full` annotation pull, nothing changed", items)):
        run = figures[name]
        seen = looked or run["items"]
        outcomes = {**run["outcomes"], "downloaded": run["downloaded"]} if run["downloaded"] \
            else run["outcomes"]
        rows.append(f"| {label} | {run['items']} | {json.dumps(outcomes)} | "
                    f"{run['wall_s']:.1f} s | {seen / run['wall_s']:.0f} items/s |")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return "\n".join([
        SECTION, "",
        f"`python bench/pull_annotations.py` ({date.today().isoformat()}, {platform.machine()}, "
        f"{os.cpu_count()} cores, load {load:.1f}, Python {platform.python_version()}): "
        f"{items} tiny items with three annotations each, seeded through the gate's store in "
        f"{figures['seed_s']:.1f} s; gate and `dlsync pull` are separate processes on "
        "loopback; wall time includes interpreter start.", "",
        "| run | items looked at | outcomes | wall | rate |", "|---|---|---|---|---|",
        *rows, "",
        "The incremental pull asks the platform only for annotations and items whose "
        "`updatedAt` moved since the previous pull's watermark (less a 30 s overlap), so its "
        "cost follows the number of changed items, not the dataset size.", ""])


def write_docs(section: str) -> None:
    """Replace (or append) the Pull section of docs/benchmarks.md."""
    text = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOCS.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 200 items, 20 "
                        "changed; docs untouched")
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)
    items, changes = (200, 20) if args.quick else (args.items, args.changes)
    figures = measure(items, changes)
    section = report(figures)
    print(section)
    if not (args.quick or args.no_docs):
        write_docs(section)
    return figures


if __name__ == "__main__":
    main()
