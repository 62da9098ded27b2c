"""A no-change rerun of ``dlsync mirror`` over a big tree, against one walk plus one listing.

Builds 100,000 tiny files (1,000 folders x 100) once, mirrors them into an empty dataset on a
``dlsync gate serve --data`` subprocess (the first mirror, also reported), then times in the same
run:

- the rerun: ``dlsync mirror`` again with nothing changed (a subprocess, so start-up counts);
- the baseline: a bare ``os.scandir`` + ``stat`` walk of the same tree plus one keyset listing
  of the dataset over aiohttp (pages of 1,000): the least any rerun must do.

    .venv/bin/python bench/mirror_rerun.py [--quick] [--files 100000] [--no-docs]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path

import aiohttp
import common

FOLDERS_PER_100K = 1000
SIZE = 64
FIRST_RUN = ["--rate", "100000", "--workers", "64", "--concurrency", "64"]


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
    """Items of the dataset by one keyset listing, pages of 1,000: the bare remote side."""
    async with aiohttp.ClientSession() as session:
        ds = await common.dataset_id(session, gate, project, dataset)
        return (await common.list_resource(session, gate, ds, "items", "filename")).count


def baseline(gate: common.Gate, tree: common.Tree, project: str, dataset: str) -> float:
    """Seconds of the walk plus the listing; both must see every file."""
    started = time.perf_counter()
    walked = walk(tree.images)
    listed = asyncio.run(listing(gate, project, dataset))
    seconds = time.perf_counter() - started
    if walked != tree.count or listed != tree.count:
        raise AssertionError(f"walked {walked}, listed {listed}, expected {tree.count}")
    return seconds


def main() -> None:
    """Build, mirror once, then time the rerun against the baseline; print and record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 files (seconds)")
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args()
    count = 2000 if args.quick else args.files
    folders = max(1, count * FOLDERS_PER_100K // 100_000)
    with common.scratch() as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        tree = common.write_tree(tmp / "tree", count=count, folders=folders, size=SIZE)
        built = time.perf_counter() - started
        project, dataset = "bench-rerun", "tiny"
        with common.running_gate(tmp / "gate") as gate:
            asyncio.run(common.make_datasets(gate, project, [dataset]))
            env = common.mirror_env(gate, tmp / "home")

            def mirror(extra: list[str]) -> tuple[common.Run, dict[str, object]]:
                return common.run_mirror(common.mirror_command(
                    tree, gate, project=project, dataset=dataset, state=tmp / "state.db",
                    extra=extra), env)

            first, first_summary = mirror(FIRST_RUN)
            uploaded = first_summary["outcomes"].get("upload.done", 0)  # type: ignore[attr-defined]
            if uploaded != count:
                raise AssertionError(f"the first mirror uploaded {uploaded} of {count}")
            base = baseline(gate, tree, project, dataset)
            rerun, rerun_summary = mirror([])
            if rerun_summary["outcomes"] or rerun_summary["remote_items_listed"] != count:
                raise AssertionError(f"the rerun was not a no-op: {rerun_summary}")
            base_again = baseline(gate, tree, project, dataset)
    best_base = min(base, base_again)
    rows = [
        ("first mirror (upload all)", f"{first.wall_s:.1f}", f"{count / first.wall_s:.0f}",
         f"{first.peak_rss_mb:.0f}"),
        ("no-change rerun", f"{rerun.wall_s:.2f}", f"{count / rerun.wall_s:.0f}",
         f"{rerun.peak_rss_mb:.0f}"),
        ("baseline: scandir+stat walk + keyset listing", f"{best_base:.2f}",
         f"{count / best_base:.0f}", "-"),
    ]
    text = common.table(["run", "seconds", "files/s", "peak RSS MB"], rows)
    notes = [
        f"{count} files of {SIZE} bytes in {folders} folders, no annotations; tree built in "
        f"{built:.0f} s.",
        f"rerun / baseline = {rerun.wall_s / best_base:.2f}x (the rerun includes process "
        f"start-up; its CPU time was {rerun.cpu_s:.2f} s). The baseline is the faster of two "
        "measurements, one before and one after the rerun.",
        f"First mirror: `dlsync mirror ... {' '.join(FIRST_RUN)}`, CPU {first.cpu_s:.0f} s. "
        "The rerun uses the defaults.",
        f"verified: the first mirror uploaded {count} files; the rerun listed {count} remote "
        "items and planned nothing.",
    ]
    common.report("No-change rerun", "python bench/mirror_rerun.py", text, notes,
                  write=not args.no_docs and not args.quick)


if __name__ == "__main__":
    main()
