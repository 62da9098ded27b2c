"""Peak memory of a first ``dlsync mirror``: it must not grow with the tree.

Builds trees of 10,000 and 100,000 tiny files (100 per folder), mirrors each into an empty
dataset of one ``dlsync gate serve --data`` subprocess, and reads the peak RSS of the dlsync
process alone (``wait4``; the gate is another process). Each run is checked: every file
uploaded, the dataset holding exactly that many items.

    .venv/bin/python bench/mirror_memory.py [--quick] [--sizes 10000,100000] [--no-docs]
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import common

PER_FOLDER = 100
SIZE = 64
RUN = ["--rate", "100000", "--workers", "64", "--concurrency", "64"]
AIM_MB = 150


def first_mirror(gate: common.Gate, tmp: Path, count: int) -> common.Run:
    """One first mirror of a fresh ``count``-file tree into a fresh dataset, verified."""
    tree = common.write_tree(tmp / f"tree{count}", count=count,
                             folders=max(1, count // PER_FOLDER), size=SIZE)
    project, dataset = f"bench-memory-{count}", "files"
    asyncio.run(common.make_datasets(gate, project, [dataset]))
    command = common.mirror_command(tree, gate, project=project, dataset=dataset,
                                    state=tmp / f"state{count}.db", extra=RUN)
    run, summary = common.run_mirror(command, common.mirror_env(gate, tmp / "home"))
    if summary["outcomes"].get("upload.done", 0) != count:
        raise AssertionError(f"the mirror of {count} files did not upload them all: {summary}")
    asyncio.run(common.verify_dataset(gate, project, dataset, items=count, annotations=0))
    return run


def main() -> None:
    """Mirror each size once; print and record the peak RSS of each run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 and 1,000 files (seconds)")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args()
    sizes = [300, 1000] if args.quick else [int(s) for s in args.sizes.split(",")]
    runs: dict[int, common.Run] = {}
    with common.scratch() as tmp_name:
        tmp = Path(tmp_name)
        with common.running_gate(tmp / "gate") as gate:
            for count in sizes:
                runs[count] = first_mirror(gate, tmp, count)
    rows = [(f"{count:,}", f"{run.peak_rss_mb:.0f}", f"{run.wall_s:.0f}",
             f"{count / run.wall_s:.0f}") for count, run in runs.items()]
    text = common.table(["files", "peak RSS MB", "seconds", "files/s"], rows)
    small, large = min(sizes), max(sizes)
    growth = (runs[large].peak_rss_mb - runs[small].peak_rss_mb) / (large - small) * 1e5
    notes = [
        f"Files of {SIZE} bytes, {PER_FOLDER} per folder, no annotations; "
        f"`dlsync mirror ... {' '.join(RUN)}` into an empty dataset each.",
        f"Growth from {small:,} to {large:,} files: {growth:+.1f} MB per 100,000 files "
        f"(aim: flat, and under {AIM_MB} MB at 100,000).",
        "Peak RSS is the dlsync process alone (`wait4` rusage), not the gate.",
        "verified: every file uploaded; each dataset lists exactly that many items.",
    ]
    common.report("First mirror memory", "python bench/mirror_memory.py", text, notes,
                  write=not args.no_docs and not args.quick)


if __name__ == "__main__":
    main()
