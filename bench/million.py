"""A million files: first mirror, no-change rerun, memory and on-disk sizes, per file.

Builds (or reuses, with ``--keep``) a tree of N tiny files (16-64 random bytes, ``--per-dir``
to a folder), then against a ``dlsync gate serve --data`` subprocess measures:

- the first mirror into an empty dataset: files/s, CPU and peak RSS of the dlsync process
  (with ``--seed``, the gate's store is seeded instead with one item per file carrying that
  file's fingerprint, and the first mirror only adopts them: minutes instead of ~20 at 1M);
- a warm-up rerun, then ``--runs`` no-change reruns (wall, CPU and peak RSS; medians), each
  against the floor measured just before it, after the load average (an ``os.scandir`` +
  ``stat`` walk of the tree plus one keyset listing of the dataset; ``mirror_rerun.floor``);
- the state database (db + wal) and the gate's data directory, in bytes per file.

Every figure is also given per file (µs/file, bytes/file) so runs of different N can be read
side by side: a flat per-file cost is a linear run. With ``--keep DIR`` each run's figures are
kept in ``DIR/results.json`` and the docs table shows every size measured there.

    .venv/bin/python bench/million.py [--files N] [--per-dir M] [--keep DIR] [--seed]
        [--runs 3] [--no-docs]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import common
import mirror_rerun

TITLE = "A million files"
AIM_RSS_MB = 100
AIM_RATIO = 1.5
FIRST_RUN = mirror_rerun.FIRST_RUN
SMALLEST, LARGEST = 16, 64


# -- the tree ---------------------------------------------------------------------------------

def build_tree(root: Path, count: int, per_dir: int) -> float:
    """Write ``count`` files of 16-64 random bytes, ``per_dir`` a folder; seconds taken.

    Raw ``os.open``/``os.write`` keeps a million files to a few minutes; every file's bytes
    differ, so no two files share a fingerprint.
    """
    started = time.perf_counter()
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    for first in range(0, count, per_dir):
        folder = root / f"d{first // per_dir:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        noise = os.urandom(per_dir * LARGEST)
        for n in range(first, min(first + per_dir, count)):
            size = SMALLEST + n % (LARGEST - SMALLEST + 1)
            at = (n - first) * LARGEST
            fd = os.open(folder / f"f{n:07d}.jpg", flags, 0o644)
            try:
                os.write(fd, noise[at:at + size])
            finally:
                os.close(fd)
    return time.perf_counter() - started


def tree_at(keep: Path, count: int, per_dir: int) -> tuple[common.Tree, float | None]:
    """The tree of ``count`` files under ``keep``: built now (seconds) or reused (``None``).

    A tree counts as built only once its marker beside it exists, so an interrupted build is
    thrown away and written again.
    """
    root = keep / f"tree-{count}-{per_dir}"
    marker = keep / f"tree-{count}-{per_dir}.complete"
    tree = common.Tree(root, None, count, 0)
    if marker.exists():
        return tree, None
    shutil.rmtree(root, ignore_errors=True)
    seconds = build_tree(root, count, per_dir)
    marker.write_text(f"{count} files, {per_dir} per folder\n", encoding="utf-8")
    return tree, seconds


@contextmanager
def workspace(keep: Path | None) -> Iterator[tuple[Path, Path]]:
    """(where trees are kept, a fresh scratch folder for gate, state and home)."""
    with tempfile.TemporaryDirectory(prefix="dlsync-million-") as tmp_name:
        tmp = Path(tmp_name)
        yield (keep if keep is not None else tmp), tmp


# -- sizes ------------------------------------------------------------------------------------

def tree_bytes(path: Path) -> int:
    """Bytes of every regular file under ``path``."""
    total = 0
    for folder, _, files in os.walk(path):
        total += sum(os.lstat(os.path.join(folder, name)).st_size for name in files)
    return total


def state_bytes(db: Path) -> int:
    """Bytes of the state database with its write-ahead log."""
    return sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal")) if p.exists())


def peak_rss_mb(pid: int) -> float:
    """A running process's peak RSS so far (``VmHWM``), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- one measured size ------------------------------------------------------------------------

def measure(tree: common.Tree, tmp: Path, *, seed: bool = False,
            runs: int = 3) -> dict[str, Any]:
    """First mirror (or seed and adopt), a warm-up rerun, then ``runs`` floors and reruns,
    sizes: the figures of one tree."""
    project, dataset = "bench-million", f"files-{tree.count}"
    state = tmp / "state.db"
    seeded = mirror_rerun.seed(tmp / "gate", tree, project, dataset) if seed else None
    if seeded is not None:
        print(f"gate store seeded in {seeded:.0f} s", flush=True)
    with common.running_gate(tmp / "gate") as gate:
        if seeded is None:
            asyncio.run(common.make_datasets(gate, project, [dataset]))
        env = common.mirror_env(gate, tmp / "home")

        def mirror(extra: list[str]) -> tuple[common.Run, dict[str, Any]]:
            return common.run_mirror(common.mirror_command(
                tree, gate, project=project, dataset=dataset, state=state, extra=extra), env)

        first, first_summary = mirror(FIRST_RUN)
        done = first_summary["outcomes"].get("adopt.done" if seed else "upload.done", 0)
        if done != tree.count:
            raise AssertionError(f"the first mirror did {done} of {tree.count}: "
                                 f"{first_summary['outcomes']}")
        print(f"first mirror: {first.wall_s:.0f} s, peak RSS {first.peak_rss_mb:.0f} MB",
              flush=True)
        result = mirror_rerun.measure(gate, tree, mirror, (project, dataset), runs)
        gate_rss = peak_rss_mb(gate.process.pid)
    text, notes = mirror_rerun.summarise(result, tree)
    print(text, *notes, sep="\n", flush=True)
    reruns, floors = result["reruns"], result["floors"]
    return {
        "files": tree.count, "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": common.machine(),
        "first_s": first.wall_s, "first_cpu_s": first.cpu_s, "first_rss_mb": first.peak_rss_mb,
        "first_kind": "seeded, adopted" if seed else "uploaded",
        "rerun_s": statistics.median(r.wall_s for r in reruns),
        "rerun_cpu_s": statistics.median(r.cpu_s for r in reruns),
        "rerun_rss_mb": max(r.peak_rss_mb for r in reruns),
        "baseline_s": statistics.median(f.wall_s for f in floors),
        "baseline_cpu_s": statistics.median(f.cpu_s for f in floors),
        "loads": [f.load for f in floors], "gate_rss_mb": gate_rss,
        "state_bytes": state_bytes(state), "gate_bytes": tree_bytes(tmp / "gate"),
        "tree_bytes": tree_bytes(tree.images),
    }


# -- reporting --------------------------------------------------------------------------------

def rows(results: list[dict[str, Any]]) -> list[list[str]]:
    """One row per measure, one column per size; absolute figure and per-file cost."""

    def per_file(key: str, r: dict[str, Any]) -> str:
        return f"{r[key]:.1f} s = {r[key] / r['files'] * 1e6:.0f} µs/file"

    def size(key: str, r: dict[str, Any]) -> str:
        return f"{r[key] / 2**20:.0f} MB = {r[key] / r['files']:.0f} B/file"

    measures = [
        ("first mirror, wall", lambda r: per_file("first_s", r)),
        ("first mirror, files/s", lambda r: f"{r['files'] / r['first_s']:.0f}"),
        ("first mirror, dlsync CPU", lambda r: per_file("first_cpu_s", r)),
        (f"first mirror, dlsync peak RSS (aim < {AIM_RSS_MB} MB)",
         lambda r: f"{r['first_rss_mb']:.0f} MB"),
        ("no-change rerun, wall (median)", lambda r: per_file("rerun_s", r)),
        ("no-change rerun, dlsync CPU (median)", lambda r: per_file("rerun_cpu_s", r)),
        (f"no-change rerun, dlsync peak RSS (aim < {AIM_RSS_MB} MB)",
         lambda r: f"{r['rerun_rss_mb']:.0f} MB"),
        ("floor: scandir+stat walk + keyset listing (median)",
         lambda r: per_file("baseline_s", r)),
        (f"rerun / floor (aim <= {AIM_RATIO:g}x)",
         lambda r: f"{r['rerun_s'] / r['baseline_s']:.2f}x"),
        ("state database (db + wal)", lambda r: size("state_bytes", r)),
        ("gate data directory", lambda r: size("gate_bytes", r)),
        ("the tree's file bytes", lambda r: size("tree_bytes", r)),
        ("gate peak RSS (whole run)", lambda r: f"{r['gate_rss_mb']:.0f} MB"),
    ]
    return [[name, *(cell(r) for r in results)] for name, cell in measures]


def render(results: list[dict[str, Any]], per_dir: int) -> tuple[str, list[str]]:
    """The side-by-side table and the notes under it."""
    text = common.table(["measure", *(f"{r['files']:,} files" for r in results)], rows(results))
    notes = [
        f"Files of {SMALLEST}-{LARGEST} random bytes, {per_dir:,} per folder, no annotations; "
        f"first mirror: `dlsync mirror ... {' '.join(FIRST_RUN)}` into an empty dataset, or "
        "with `--seed` into a dataset whose items were seeded into the gate's store with each "
        "file's fingerprint (the mirror adopts them, uploading nothing); the reruns use the "
        "defaults. All are subprocesses, so interpreter start-up counts.",
        *(f"{r['files']:,} files: first mirror {r.get('first_kind', 'uploaded')}; load "
          f"average before each floor and rerun: {r.get('loads', '-')}." for r in results),
        "Peak RSS is the dlsync process alone (its `VmHWM`, read while it runs); the gate is "
        "another process.",
        "Rerun and floor are medians of the runs measured (`--runs`, 3), each floor just before "
        "its rerun; the load average before each is in results.json (`loads`).",
        *(f"{r['files']:,} files measured {r['when']} on {r['machine']}." for r in results),
        "verified: each first mirror uploaded (or adopted) every file; each rerun's listing "
        "counted every remote item and the rerun planned nothing.",
    ]
    return text, notes


def remember(keep: Path | None, result: dict[str, Any]) -> list[dict[str, Any]]:
    """Every result kept so far (this one replacing an older one of the same size), by size."""
    if keep is None:
        return [result]
    path = keep / "results.json"
    kept = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    kept = [r for r in kept if r["files"] != result["files"]] + [result]
    kept.sort(key=lambda r: r["files"])
    path.write_text(json.dumps(kept, indent=1), encoding="utf-8")
    return kept


def main() -> None:
    """Build or reuse the tree, measure it, print and record the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--per-dir", type=int, default=1000)
    parser.add_argument("--keep", type=Path, help="keep trees and results here, reuse them")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument("--seed", action="store_true",
                        help="seed the gate's store and adopt instead of uploading every file")
    parser.add_argument("--runs", type=int, default=3, help="measured reruns (medians)")
    parser.add_argument("--max-load", type=float, default=0.5,
                        help="each measured run waits until the 1-minute load is under this")
    parser.add_argument("--settle", type=float, default=mirror_rerun.LISTING_OVERLAP_S + 1,
                        help="seconds between the warm-up and the measured reruns")
    parser.add_argument("--report", action="store_true",
                        help="measure nothing: write the results kept in --keep to the docs")
    args = parser.parse_args()
    mirror_rerun.mirror_rerun_max_load(args.max_load, args.settle)
    if args.report:
        if args.keep is None:
            parser.error("--report needs --keep DIR")
        publish(json.loads((args.keep / "results.json").read_text(encoding="utf-8")),
                args.per_dir, write=True)
        return
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    with workspace(args.keep) as (trees, tmp):
        tree, built = tree_at(trees, args.files, args.per_dir)
        print(f"tree of {args.files:,} files " + (f"built in {built:.0f} s" if built is not None
                                                  else "reused"), flush=True)
        result = measure(tree, tmp, seed=args.seed, runs=args.runs)
    publish(remember(args.keep, result), args.per_dir,
            write=not args.no_docs and args.files >= 100_000)


def publish(results: list[dict[str, Any]], per_dir: int, *, write: bool) -> None:
    """Print the table of ``results``; with ``write``, put it into docs/benchmarks.md."""
    text, notes = render(results, per_dir)
    sizes = ", ".join(f"{r['files']:,}" for r in results)
    command = ".venv/bin/python bench/million.py --keep DIR --files N"
    print(text, *notes, sep="\n")
    if write:
        body = [f"Command: `{command}`, once for each N ({sizes}); each run adds its column.",
                "", text,
                "", *[f"- {note}" for note in notes]]
        common.write_section(TITLE, "\n".join(body))


if __name__ == "__main__":
    main()
