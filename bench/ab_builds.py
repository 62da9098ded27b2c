"""Two dlsync builds, paired: a first mirror of one tree by each, in alternating order, one gate.

For comparing a change on a machine whose speed drifts (a shared host): each pair runs the two
builds back to back against the same gate, each into its own empty dataset with its own state,
the first of the pair alternating, each run once the 1-minute load is under ``--max-load``. The
report gives every pair's ratio (this build over the other) of CPU per item and of wall time,
and their medians: a drift that slows both runs of a pair cancels out.

    .venv/bin/python bench/ab_builds.py OTHER_CHECKOUT [--files 3000] [--pairs 8]
        [--gate-from OTHER|THIS]

``OTHER_CHECKOUT`` is a checkout of the other build (``git worktree add /tmp/base REV``); its
``dlsync`` is put first on ``PYTHONPATH`` for its runs. The gate runs from this checkout unless
``--gate-from other``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import common

SIZE = 16 * 1024
BOXES = 5
FOLDERS = 20


def main() -> None:
    """Write the tree, start the gate, run the pairs, print each ratio and their medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="checkout of the other build")
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--max-load", type=float, default=0.5)
    parser.add_argument("--gate-from", choices=["this", "other"], default="this")
    args = parser.parse_args()
    other = str(args.other.resolve())
    runs: dict[str, list[tuple[float, float]]] = {"this": [], "other": []}
    with common.scratch() as tmp_name:
        tmp = Path(tmp_name)
        # ``python -m dlsync`` puts the working directory first on sys.path: run from the
        # scratch directory, or a run started in this checkout would import it for both sides
        os.chdir(tmp)
        _check_other(other)
        tree = common.write_tree(tmp / "tree", count=args.files, folders=FOLDERS, size=SIZE,
                                 boxes=BOXES)
        mine = os.environ.get("PYTHONPATH")
        if args.gate_from == "other":
            os.environ["PYTHONPATH"] = other
        with common.running_gate(tmp / "gate") as gate:
            _restore("PYTHONPATH", mine)
            for index in range(args.pairs):
                project = f"ab-{uuid.uuid4().hex[:8]}"
                asyncio.run(common.make_datasets(gate, project, ["this", "other"]))
                order = ["other", "this"] if index % 2 == 0 else ["this", "other"]
                for side in order:
                    load = common.wait_quiet(args.max_load)
                    env = common.mirror_env(gate, tmp / f"home-{side}")
                    if side == "other":
                        env["PYTHONPATH"] = other
                    command = common.mirror_command(tree, gate, project=project, dataset=side,
                                                    state=tmp / f"{index}-{side}.db")
                    run, _ = common.run_mirror(command, env)
                    cpu_ms = run.cpu_s / args.files * 1000
                    runs[side].append((run.wall_s, cpu_ms))
                    print(f"pair {index + 1} {side}: {run.wall_s:.2f} s, {cpu_ms:.3f} ms of CPU "
                          f"per item (load before {load:.2f})", flush=True)
    pairs = list(zip(runs["this"], runs["other"], strict=True))
    cpu = [mine[1] / theirs[1] for mine, theirs in pairs]
    wall = [mine[0] / theirs[0] for mine, theirs in pairs]
    print(f"this/other, CPU per item: {', '.join(f'{r:.3f}' for r in cpu)} "
          f"(median {common.median(cpu):.3f})")
    print(f"this/other, wall: {', '.join(f'{r:.3f}' for r in wall)} "
          f"(median {common.median(wall):.3f})")
    print(f"{args.files} files of 16 KiB, {BOXES} boxes each, {args.pairs} pairs; the gate ran "
          f"from {'the other' if args.gate_from == 'other' else 'this'} checkout.")


def _check_other(other: str) -> None:
    """Fail unless ``dlsync`` imported with ``other`` first on ``PYTHONPATH`` is the other's."""
    found = subprocess.run([sys.executable, "-c", "import dlsync; print(dlsync.__file__)"],
                           env={**os.environ, "PYTHONPATH": other}, capture_output=True,
                           text=True, check=True).stdout.strip()
    if not Path(found).resolve().is_relative_to(Path(other)):
        raise SystemExit(f"the other build's runs would import {found}, not {other}/dlsync")


def _restore(name: str, value: str | None) -> None:
    """Set ``name`` back to ``value`` in this process's environment (``None``: unset)."""
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


if __name__ == "__main__":
    main()
