"""Benchmark: 10,000 synced items added to a task by ``dlsync mirror --task --task-backfill``.

One command: ``python bench/task_add.py`` (10,000 items) or ``--quick`` (a smoke run, 1,500).
A gate data directory is seeded through the gate's store with tiny items carrying dlsync's
fingerprint (synced items in no task), a gate subprocess serves it, and ``dlsync mirror`` of an
empty folder runs as a subprocess twice:

1. without a task: the baseline (one remote listing, nothing to do);
2. with ``--task bench --task-backfill``: the same listing, then every item queued in state and
   sent in batches of ``TASK_BATCH`` (the first batch creates the task, the rest ``addToTask``).

The difference is the cost of the task; the gate's request counts by route say how many calls
it took. The result is checked through the API: the task holds every item, each once. The
figures go to the "Tasks" section of docs/benchmarks.md unless ``--no-docs`` or ``--quick``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import anyio
from common import machine, table, write_section
from pull_annotations import seed_blob, start_gate, token_for

from dlsync.constants import TASK_BATCH
from dlsync.gate.server import DATABASE_FILE
from dlsync.gate.store import Blob, Store
from dlsync.remote.client import DataloopClient
from dlsync.remote.credentials import Credentials
from dlsync.remote.settings import RemoteSettings
from dlsync.remote.tasks import NewTask

CONTENT = b"tiny item\n"
USER = "bench@dlsync.test"


def seed(data_dir: Path, items: int) -> None:
    """Project ``bench``, dataset ``tasks``: ``items`` synced files (fingerprinted), no task."""
    sha = seed_blob(data_dir, CONTENT)
    with contextlib.closing(Store(data_dir / DATABASE_FILE)) as store:
        project = store.create_project("bench", USER)
        dataset = store.create_dataset({"name": "tasks", "projects": [project["id"]]}, USER)
        blob = Blob(sha256=sha, size=len(CONTENT), mimetype="image/jpeg")
        store.seed_files(dataset["id"],
                         [f"/d{n // 1000:03d}/f{n:07d}.jpg" for n in range(items)], blob, USER)
        mark = {"user": {"dlsync": {"sha256": sha, "size": len(CONTENT), "annotations": None}}}
        store.update_items_matching(dataset["id"], {"filter": {"$and": [{"type": "file"}]},
                                                    "update": {"metadata": mark}}, USER)


def gate_call(url: str, token: str, path: str, body: Any = None) -> Any:
    """One JSON request to the gate (POST when ``body`` is given)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{url}{path}", data=data, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as reply:
        return json.loads(reply.read())


def run_mirror(url: str, token: str, work: Path,
               *flags: str) -> tuple[float, dict[str, int], float]:
    """One ``dlsync mirror`` of an empty folder; wall seconds, the gate's requests by route, and
    the mirror process's CPU seconds."""
    gate_call(url, token, "/__gate__/stats/reset", {})
    folder = work / "empty"
    folder.mkdir(exist_ok=True)
    argv = [sys.executable, "-m", "dlsync", "--log-level", "error", "mirror", str(folder),
            "--remote", url, "--project", "bench", "--dataset", "tasks", "--state",
            str(work / "state.db"), "--no-progress", "--json", *flags]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True,
                          env={**os.environ, "DLSYNC_TOKEN": token})
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"dlsync mirror failed ({done.returncode}): {done.stdout}{done.stderr}")
    stats = gate_call(url, token, "/__gate__/stats")
    return wall, {route: sum(codes.values()) for route, codes in stats["by_route"].items()}, cpu


def verify(url: str, token: str, items: int) -> str:
    """The task holds every item once (counted on the items' refs)."""
    project = gate_call(url, token, "/projects/bench/name")[0]["id"]
    (task,) = gate_call(url, token, "/annotationtasks/query", {
        "filter": {"$and": [{"name": "bench"}]}, "context": {"projectIds": [project]}})["items"]
    if task["totalItems"] != items:
        raise AssertionError(f"the task holds {task['totalItems']} items, expected {items}")
    return f"verified: task 'bench' holds all {items} items, each once"


async def direct(url: str, token: str) -> tuple[float, int, int]:
    """The task calls alone, as the mirror makes them, on a second task over the same items:
    seconds, requests, items added."""
    settings = RemoteSettings(url=url, rate=1e6)
    async with DataloopClient(settings, Credentials(token=token, source="bench")) as client:
        project = await client.get_project("bench")
        dataset = await client.get_dataset(project["id"], "tasks")
        ids = [item["id"] async for item in client.iter_items(dataset["id"])]
        info = await client.get_dataset_by_id(dataset["id"])
        recipe = info["metadata"]["system"]["recipes"][0]  # type: ignore[typeddict-item]
        new = NewTask("bench-direct", project["id"], dataset["id"], recipe, USER, (USER,),
                      int((time.time() + 7 * 86400) * 1000))
        before = client.pacer.stats().attempts
        started = time.perf_counter()
        task = await client.create_task(new, ids[:TASK_BATCH])
        for start in range(TASK_BATCH, len(ids), TASK_BATCH):
            await client.add_to_task(task["id"], ids[start:start + TASK_BATCH])
        seconds = time.perf_counter() - started
        return seconds, client.pacer.stats().attempts - before, len(ids)


def measure(items: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="dlsync-task-bench-") as tmp:
        work = Path(tmp)
        data = work / "gate"
        data.mkdir()
        seed(data, items)
        token = token_for(data)
        process, url = start_gate(data)
        try:
            run_mirror(url, token, work)        # warms the gate's caches and the state
            load = os.getloadavg()[0]
            base_wall, base_requests, base_cpu = run_mirror(url, token, work)
            task_wall, task_requests, task_cpu = run_mirror(url, token, work, "--task",
                                                            "bench", "--task-backfill")
            checked = verify(url, token, items)
            calls = anyio.run(direct, url, token)
        finally:
            process.terminate()
            process.wait(timeout=15)
            if process.stdout is not None:
                process.stdout.close()
    return {"items": items, "base": (base_wall, base_requests, base_cpu),
            "task": (task_wall, task_requests, task_cpu), "direct": calls, "verified": checked,
            "load": load}


def render(figures: dict[str, Any]) -> tuple[str, list[str]]:
    items = figures["items"]
    base_wall, base_requests, base_cpu = figures["base"]
    task_wall, task_requests, task_cpu = figures["task"]
    task_routes = {r: n for r, n in task_requests.items() if "annotationtasks" in r}
    extra = sum(task_requests.values()) - sum(base_requests.values())
    rows = [["mirror, no task (baseline: one listing)", f"{sum(base_requests.values())}",
             f"{base_wall:.2f} s"],
            [f"mirror --task --task-backfill ({items:,} items)",
             f"{sum(task_requests.values())}", f"{task_wall:.2f} s"],
            [f"the task calls alone (create + addToTask, {figures['direct'][2]:,} items)",
             f"{figures['direct'][1]}", f"{figures['direct'][0]:.2f} s "
             f"({figures['direct'][2] / figures['direct'][0]:,.0f} items/s)"]]
    notes = ["baseline: the second of two runs without a task (the first warms the gate)",
             f"task calls: {json.dumps(task_routes)} (batches of {TASK_BATCH:,}); "
             f"{extra} requests more than the baseline in all",
             "the mirror's wall time is dominated by the listing both runs make; the last "
             "row times the same calls from one client, without the listing",
             f"mirror CPU: {base_cpu:.2f} s without the task, {task_cpu:.2f} s with it "
             f"({(task_cpu - base_cpu) / items * 1e6:.0f} µs per item added); load average "
             f"before the runs {figures['load']:.2f} "
             f"({'quiet' if figures['load'] < 1 else 'shared'})",
             figures["verified"]]
    return table(["run", "requests", "wall"], rows), notes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1,500 items")
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--no-docs", action="store_true", help="print only")
    args = parser.parse_args(argv)
    figures = measure(1_500 if args.quick else args.items)
    rows, notes = render(figures)
    print(rows)
    for note in notes:
        print(note)
    if not (args.quick or args.no_docs):
        body = ["Command: `python bench/task_add.py`", "",
                f"Measured on {machine()}. Gate and `dlsync mirror` are separate processes on "
                "loopback; wall time includes interpreter start.", "", rows, "",
                *[f"- {note}" for note in notes]]
        write_section("Tasks", "\n".join(body))


if __name__ == "__main__":
    main()
