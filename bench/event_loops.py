"""A first ``dlsync mirror`` on uvloop against the same on asyncio's own loop, round by round.

One gate subprocess, warmed up by the bare loop of ``mirror_vs_dtlpy.py`` with the whole tree,
serves every run (with ``--fresh-gate``, a new gate, warmed the same way, serves each round, as
in ``mirror_vs_dtlpy.py``). Each round runs the bare loop and ``dlsync mirror`` twice, once with
``DLSYNC_EVENT_LOOP=asyncio`` and once with ``DLSYNC_EVENT_LOOP=uvloop``, each into its own empty
dataset and each once the machine is quiet (1-minute load average under ``--max-load``); the
order flips every round. The report gives, per round, uvloop's wall and CPU over asyncio's, and
the medians of those ratios: two runs a minute apart drift less than two medians an hour apart.
Every dataset is checked through the API afterwards (every file once, every box once).

    .venv/bin/python bench/event_loops.py [--quick] [--files 5000] [--rounds 6] [--fresh-gate]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from pathlib import Path

import common
import mirror_vs_dtlpy as first_mirror

LOOPS = ("asyncio", "uvloop")


def run_round(gate: common.Gate, tree: common.Tree, project: str, k: int, tmp: Path,
              runs: dict[str, list[tuple[float, float]]], max_load: float) -> None:
    """Round ``k``: the bare loop and dlsync on each loop, the order flipped every round."""
    sides = list(runs)
    for side in sides if k % 2 == 0 else sides[::-1]:
        load = common.wait_quiet(max_load)
        dataset = f"{side}-{k}"
        if side == "bare":
            wall, cpu = asyncio.run(first_mirror.run_bare(gate, tree, project, dataset))
            ran = "asyncio"
        else:
            run, summary = first_mirror.run_dlsync(gate, tree, project, dataset, tmp,
                                                   env={"DLSYNC_EVENT_LOOP": side})
            wall, cpu, ran = run.wall_s, run.cpu_s, summary.get("event_loop")
            if ran != side:
                raise AssertionError(f"asked for {side}, the summary says {ran}")
        runs[side].append((wall, cpu))
        print(json.dumps({"round": k + 1, "client": side, "loop": ran,
                          "seconds": round(wall, 2),
                          "cpu_ms_per_item": round(cpu / tree.count * 1000, 3),
                          "load_before": round(load, 2)}), flush=True)


def main() -> None:
    """Build the tree, run the rounds, verify every dataset, print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 files, one round (seconds)")
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--fresh-gate", action="store_true",
                        help="a new gate process for every round, as mirror_vs_dtlpy.py has")
    parser.add_argument("--max-load", type=float, default=0.5,
                        help="each run waits until the 1-minute load average is under this")
    args = parser.parse_args()
    count, rounds = (100, 1) if args.quick else (args.files, args.rounds)
    max_load = 100.0 if args.quick else args.max_load
    sides = ["bare", *LOOPS]
    runs: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
    with common.scratch() as tmp_name:
        tmp = Path(tmp_name)
        tree = common.write_tree(tmp / "tree", count=count, folders=first_mirror.FOLDERS,
                                 size=first_mirror.SIZE, boxes=first_mirror.BOXES)
        # one gate for every round, or (--fresh-gate) a new one for each round
        groups = [[k] for k in range(rounds)] if args.fresh_gate else [list(range(rounds))]
        for number, group in enumerate(groups):
            with common.running_gate(tmp / f"gate{number}") as gate:
                project = f"loops-{uuid.uuid4().hex[:8]}"
                names = [f"{side}-{k}" for k in group for side in sides]
                asyncio.run(common.make_datasets(gate, project, [*names, "warm-up"]))
                asyncio.run(first_mirror.run_bare(gate, tree, project, "warm-up"))
                for k in group:
                    run_round(gate, tree, project, k, tmp, runs, max_load)
                for name in names:
                    print("verified:", asyncio.run(common.verify_dataset(
                        gate, project, name, items=count,
                        annotations=count * first_mirror.BOXES)))
    walls = [u[0] / a[0] for a, u in zip(runs["asyncio"], runs["uvloop"], strict=True)]
    cpus = [u[1] / a[1] for a, u in zip(runs["asyncio"], runs["uvloop"], strict=True)]
    print(f"uvloop/asyncio, round by round: wall {', '.join(f'{w:.3f}' for w in walls)} "
          f"(median {common.median(walls):.3f}); CPU {', '.join(f'{c:.3f}' for c in cpus)} "
          f"(median {common.median(cpus):.3f})")
    for side in LOOPS:
        wall = [b[0] / d[0] for b, d in zip(runs["bare"], runs[side], strict=True)]
        cpu = [d[1] / b[1] for b, d in zip(runs["bare"], runs[side], strict=True)]
        print(f"dlsync on {side} against the bare loop: wall {common.median(wall):.3f} "
              f"(median of the rounds), CPU {common.median(cpu):.3f}x; medians "
              f"{common.median([r[0] for r in runs[side]]):.2f} s, "
              f"{common.median([r[1] for r in runs[side]]) / count * 1000:.3f} ms of CPU per item")


if __name__ == "__main__":
    main()
