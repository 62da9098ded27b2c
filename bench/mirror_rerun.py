"""A no-change rerun of ``dlsync mirror`` over a big tree, against the floor: one walk plus one
listing.

Builds N tiny files (1,000 folders per 100,000), with ``--annotations`` one Dataloop JSON file
each in a separate annotation folder, mirrors them into an empty dataset on a
``dlsync gate serve --data`` subprocess (the first mirror, also reported; with ``--seed`` the
gate's store is seeded instead with one item per file carrying that file's fingerprint, and the
first mirror only adopts them), runs one warm-up rerun (it merges what the first mirror
uploaded into the remote cache), waits ``LISTING_OVERLAP_S`` and reruns once more (so the
listing's watermark has settled, as for a scheduled rerun long after the last change on the
platform), then ``--runs`` times, each measured after the load average:

- the floor: a bare ``os.scandir`` + ``stat`` walk of the files and the annotation files plus
  one keyset listing of the dataset over aiohttp (pages of 1,000, only counted): the least any
  rerun must do;
- the rerun: ``dlsync mirror`` again with nothing changed (a subprocess, so start-up counts);

and last one rerun with ``--full-listing``, as a rerun runs once every ``full_listing_interval``.

It prints medians (wall, CPU, CPU per file, peak RSS) and the ratio rerun / floor.

    .venv/bin/python bench/mirror_rerun.py [--quick] [--files N] [--annotations] [--seed]
        [--runs 3] [--no-docs]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import resource
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import common

from dlsync.constants import LISTING_OVERLAP_S

FOLDERS_PER_100K = 1000
SIZE = 64
BOXES = 2
FIRST_RUN = ["--rate", "100000", "--workers", "64", "--concurrency", "64"]
USER = "bench@dlsync.test"

Mirror = Callable[[list[str]], tuple[common.Run, dict[str, Any]]]


# -- the floor --------------------------------------------------------------------------------

def walk(root: Path) -> int:
    """Files under ``root`` by ``os.scandir``, each one ``stat``-ed: the bare local side."""
    count, stack = 0, [str(root)]
    while stack:
        with os.scandir(stack.pop()) as listing:
            for entry in listing:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    entry.stat(follow_symlinks=False)
                    count += 1
    return count


async def listing(gate: common.Gate, project: str, dataset: str) -> int:
    """Items of the dataset by one keyset listing, pages of 1,000, counted: the remote side."""
    auth = {"authorization": f"Bearer {gate.token}", "user_query": "true"}
    count, after = 0, None
    async with aiohttp.ClientSession() as session:
        ds = await common.dataset_id(session, gate, project, dataset)
        while True:
            conds: list[dict[str, Any]] = [{"hidden": False}, {"type": "file"}]
            if after is not None:
                conds.append({"id": {"$gt": after}})
            body = {"filter": {"$and": conds}, "sort": {"id": "ascending"}, "page": 0,
                    "pageSize": common.PAGE, "resource": "items"}
            async with session.post(f"{gate.url}/datasets/{ds}/query", json=body,
                                    headers=auth) as resp:
                resp.raise_for_status()
                page = await resp.json()
            count += len(page["items"])
            if not page["hasNextPage"] or not page["items"]:
                return count
            after = page["items"][-1]["id"]


@dataclass(frozen=True)
class Timed:
    """Wall and CPU seconds of one measured piece of work, and the load average before it."""

    wall_s: float
    cpu_s: float
    load: float
    peak_rss_mb: float = 0.0


def cpu_now() -> float:
    """CPU seconds this process has used so far (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


MAX_LOAD = [100.0]
"""Measured runs wait until the 1-minute load average is under this (``--max-load``)."""
SETTLE_S = [LISTING_OVERLAP_S + 1]
"""Seconds between the warm-up and the measured reruns (``--settle``)."""


def mirror_rerun_max_load(value: float, settle_s: float = LISTING_OVERLAP_S + 1) -> None:
    """Set the load average measured runs wait for, and the settle time before them."""
    MAX_LOAD[0] = value
    SETTLE_S[0] = settle_s


def floor(gate: common.Gate, tree: common.Tree, project: str, dataset: str) -> Timed:
    """The walk of both trees plus the listing; both must see every file."""
    load = common.wait_quiet(MAX_LOAD[0])
    started, cpu = time.perf_counter(), cpu_now()
    walked = walk(tree.images) + (walk(tree.ann) if tree.ann else 0)
    listed = asyncio.run(listing(gate, project, dataset))
    timed = Timed(time.perf_counter() - started, cpu_now() - cpu, load)
    expected = tree.count * (2 if tree.ann else 1)
    if walked != expected or listed != tree.count:
        raise AssertionError(f"walked {walked} (expected {expected}), listed {listed} "
                             f"(expected {tree.count})")
    return timed


def baseline(gate: common.Gate, tree: common.Tree, project: str, dataset: str) -> float:
    """Seconds of the floor (the older benchmarks' name for it)."""
    return floor(gate, tree, project, dataset).wall_s


# -- a dataset without uploading it -------------------------------------------------------------

def files_of(root: Path) -> Iterator[Path]:
    """Every file under ``root``, folder by folder."""
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            yield Path(folder) / name


def seed(data: Path, tree: common.Tree, project: str, dataset: str) -> float:
    """Create ``project/dataset`` in the gate data directory ``data`` (the gate not running)
    with one item per file of ``tree``, each carrying that file's dlsync fingerprint, as a
    first mirror leaves them; seconds taken. The blobs are not stored: a rerun never reads
    them."""
    from dlsync.gate.server import DATABASE_FILE
    from dlsync.gate.store import Blob, FileUpload, Store

    if tree.ann is not None:
        raise SystemExit("--seed makes items without annotations: leave out --annotations")
    started = time.perf_counter()

    def uploads() -> Iterator[FileUpload]:
        for path in files_of(tree.images):
            content = path.read_bytes()
            sha = hashlib.sha256(content).hexdigest()
            mark = {"sha256": sha, "size": len(content), "annotations": None}
            yield FileUpload("/" + path.relative_to(tree.images).as_posix(),
                             Blob(sha, len(content), "image/jpeg"), {"user": {"dlsync": mark}})

    data.mkdir(parents=True, exist_ok=True)
    with closing(Store(data / DATABASE_FILE)) as store:
        project_id = store.create_project(project, USER)["id"]
        dataset_id = store.create_dataset({"name": dataset, "projects": [project_id]},
                                          USER)["id"]
        added = store.seed_uploads(dataset_id, uploads(), USER)
    if added != tree.count:
        raise AssertionError(f"seeded {added} items of {tree.count}")
    return time.perf_counter() - started


# -- the measurement ---------------------------------------------------------------------------

def rerun(mirror: Mirror, count: int) -> Timed:
    """One no-change rerun; it must change nothing."""
    load = os.getloadavg()[0]
    run, summary = mirror([])
    if summary["outcomes"] or summary["listing"]["total"] != count:
        raise AssertionError(f"the rerun was not a no-op: {summary}")
    return Timed(run.wall_s, run.cpu_s, load, run.peak_rss_mb)


def measure(gate: common.Gate, tree: common.Tree, mirror: Mirror, names: tuple[str, str],
            runs: int) -> dict[str, Any]:
    """A warm-up rerun, then ``runs`` pairs of floor and rerun, then one rerun with
    ``--full-listing`` (what a rerun costs once a day): every figure kept."""
    warm_run, warm = mirror([])
    if warm["outcomes"]:
        raise AssertionError(f"the warm-up rerun was not a no-op: {warm}")
    # A scheduled rerun comes long after the last change on the platform; within
    # LISTING_OVERLAP_S of it, a rerun also lists the items changed in those seconds again.
    # The warm-up row shows that case; the measured reruns start once it has passed.
    time.sleep(SETTLE_S[0])
    _, settle = mirror([])
    if settle["outcomes"]:
        raise AssertionError(f"the settling rerun was not a no-op: {settle}")
    floors, reruns, listings = [], [], []
    for _ in range(runs):
        floors.append(floor(gate, tree, *names))
        rerun_load = common.wait_quiet(MAX_LOAD[0])
        run, summary = mirror([])
        if summary["outcomes"] or summary["listing"]["total"] != tree.count:
            raise AssertionError(f"the rerun was not a no-op: {summary}")
        reruns.append(Timed(run.wall_s, run.cpu_s, rerun_load, run.peak_rss_mb))
        listings.append(summary["listing"])
    load = common.wait_quiet(MAX_LOAD[0])
    full_run, full = mirror(["--full-listing"])
    if full["outcomes"] or full["listing"]["kind"] != "full":
        raise AssertionError(f"the --full-listing rerun was not a no-op: {full}")
    return {"warm": Timed(warm_run.wall_s, warm_run.cpu_s, 0.0, warm_run.peak_rss_mb),
            "warm_listing": warm["listing"], "floors": floors, "reruns": reruns,
            "listings": listings,
            "full": Timed(full_run.wall_s, full_run.cpu_s, load, full_run.peak_rss_mb)}


def summarise(result: dict[str, Any], tree: common.Tree) -> tuple[str, list[str]]:
    """The table of medians and the notes under it."""
    floors: list[Timed] = result["floors"]
    reruns: list[Timed] = result["reruns"]
    files = tree.count * (2 if tree.ann else 1)

    def med(values: list[Timed], key: str) -> float:
        return statistics.median(getattr(v, key) for v in values)

    rerun_wall, floor_wall = med(reruns, "wall_s"), med(floors, "wall_s")
    rerun_cpu, floor_cpu = med(reruns, "cpu_s"), med(floors, "cpu_s")
    rows = [
        ("no-change rerun (median)", f"{rerun_wall:.2f}", f"{rerun_cpu:.2f}",
         f"{rerun_cpu / files * 1e6:.1f}", f"{max(r.peak_rss_mb for r in reruns):.0f}"),
        ("floor: scandir+stat walk + keyset listing (median)", f"{floor_wall:.2f}",
         f"{floor_cpu:.2f}", f"{floor_cpu / files * 1e6:.1f}", "-"),
        ("warm-up rerun (after the first mirror)", f"{result['warm'].wall_s:.2f}",
         f"{result['warm'].cpu_s:.2f}", f"{result['warm'].cpu_s / files * 1e6:.1f}",
         f"{result['warm'].peak_rss_mb:.0f}"),
        ("rerun with --full-listing (once)", f"{result['full'].wall_s:.2f}",
         f"{result['full'].cpu_s:.2f}", f"{result['full'].cpu_s / files * 1e6:.1f}",
         f"{result['full'].peak_rss_mb:.0f}"),
    ]
    text = common.table(["run", "wall s", "CPU s", "CPU µs/file", "peak RSS MB"], rows)
    kinds = sorted({str(listing["kind"]) for listing in result["listings"]})
    notes = [
        f"{tree.count:,} files of {SIZE} bytes" + (f" and {tree.count:,} annotation files "
                                                   f"({BOXES} boxes each)" if tree.ann else "")
        + f"; per-file figures divide by {files:,} walked files.",
        f"rerun / floor = {rerun_wall / floor_wall:.2f}x wall, {rerun_cpu / floor_cpu:.2f}x "
        f"CPU (medians of {len(reruns)}; the rerun is a subprocess, so start-up counts; the "
        "floor's CPU is this process's).",
        "each run: " + "; ".join(
            f"floor {f.wall_s:.2f} s / {f.cpu_s:.2f} s CPU, rerun {r.wall_s:.2f} s / "
            f"{r.cpu_s:.2f} s CPU / {r.peak_rss_mb:.0f} MB, load {f.load:.2f} before"
            for f, r in zip(floors, reruns, strict=True)),
        f"the reruns' listings: {', '.join(kinds)} ({result['listings'][-1]['reason']}, "
        f"{result['listings'][-1]['listed']} listed); the warm-up's: "
        f"{result['warm_listing']['kind']} ({result['warm_listing']['listed']} listed). The "
        f"measured reruns start {LISTING_OVERLAP_S:.0f} s after the warm-up and one more "
        "rerun, as a scheduled rerun comes long after the last change on the platform.",
    ]
    return text, notes


def main() -> None:
    """Build, set up the dataset, then time reruns against the floor; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 files (seconds)")
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--annotations", action="store_true",
                        help=f"one annotation file ({BOXES} boxes) per file")
    parser.add_argument("--seed", action="store_true",
                        help="seed the gate's store instead of uploading (no annotations)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-load", type=float, default=0.5,
                        help="each measured run waits until the 1-minute load is under this")
    parser.add_argument("--settle", type=float, default=LISTING_OVERLAP_S + 1,
                        help="seconds between the warm-up and the measured reruns")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args()
    mirror_rerun_max_load(100.0 if args.quick else args.max_load,
                          0.0 if args.quick else args.settle)
    count = 2000 if args.quick else args.files
    folders = max(1, count * FOLDERS_PER_100K // 100_000)
    project, dataset = "bench-rerun", "tiny"
    with common.scratch() as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        tree = common.write_tree(tmp / "tree", count=count, folders=folders, size=SIZE,
                                 boxes=BOXES if args.annotations else 0)
        print(f"tree of {count:,} files built in {time.perf_counter() - started:.0f} s",
              flush=True)
        seeded = seed(tmp / "gate", tree, project, dataset) if args.seed else None
        with common.running_gate(tmp / "gate") as gate:
            if seeded is None:
                asyncio.run(common.make_datasets(gate, project, [dataset]))
            env = common.mirror_env(gate, tmp / "home")

            def mirror(extra: list[str]) -> tuple[common.Run, dict[str, Any]]:
                return common.run_mirror(common.mirror_command(
                    tree, gate, project=project, dataset=dataset, state=tmp / "state.db",
                    extra=extra), env)

            first, first_summary = mirror(FIRST_RUN)
            done = first_summary["outcomes"].get("adopt.done" if seeded is not None
                                                 else "upload.done", 0)
            if done != count:
                raise AssertionError(f"the first mirror did {done} of {count}: "
                                     f"{first_summary['outcomes']}")
            print(f"first mirror: {first.wall_s:.0f} s, {first.cpu_s:.0f} s CPU, peak RSS "
                  f"{first.peak_rss_mb:.0f} MB", flush=True)
            result = measure(gate, tree, mirror, (project, dataset), args.runs)
    text, notes = summarise(result, tree)
    how = (f"the gate's store seeded in {seeded:.0f} s, the first mirror adopting every item"
           if seeded is not None else f"first mirror `dlsync mirror ... {' '.join(FIRST_RUN)}`")
    notes.append(f"set-up: {how} ({first.wall_s:.0f} s, {first.cpu_s:.0f} s CPU, "
                 f"{first.peak_rss_mb:.0f} MB); machine: {common.machine()}.")
    notes.append(f"verified: the first mirror {'adopted' if seeded is not None else 'uploaded'} "
                 f"{count} files; every rerun planned nothing and its listing counted {count} "
                 "remote items.")
    common.report("No-change rerun", "python bench/mirror_rerun.py", text, notes,
                  write=not args.no_docs and not args.quick)


if __name__ == "__main__":
    main()
