"""Instructions per item of a first ``dlsync mirror``, counted by callgrind: a CPU measure that
does not move with the machine's load, for comparing two builds on a shared or noisy machine.

Two first mirrors of trees of ``--small`` and ``--large`` files (16 KiB, 5 boxes each) run under
``valgrind --tool=callgrind`` against one gate; the difference of their instruction counts over
the difference of their sizes is the cost of one more item, start-up excluded (it is reported
apart). Counts repeat to about 0.2 % from run to run. Wall time under valgrind means nothing, and
callgrind does not emulate SHA extensions, so the SHA-256 of each file weighs more here than on
the machine: compare builds with this, and quote times from ``mirror_vs_dtlpy.py``.

    .venv/bin/python bench/mirror_instructions.py [--small 300] [--large 900]

To count another build, put its checkout first on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import common

_COLLECTED = re.compile(r"Collected : (\d+)")


def count(tree: common.Tree, gate: common.Gate, project: str, dataset: str,
          tmp: Path) -> int:
    """Instructions of one first mirror of ``tree`` into ``dataset``."""
    cmd = common.mirror_command(tree, gate, project=project, dataset=dataset,
                                state=tmp / f"{dataset}.db")
    run = subprocess.run(["valgrind", "--tool=callgrind",
                          f"--callgrind-out-file={tmp / 'callgrind.%p'}", *cmd],
                         env=common.mirror_env(gate, tmp / "home"), capture_output=True,
                         text=True, check=False)
    found = _COLLECTED.findall(run.stderr)
    if run.returncode != 0 or not found:
        raise SystemExit(f"the mirror under callgrind failed ({run.returncode}):\n"
                         f"{run.stderr[-2000:]}")
    return int(found[-1])


def main() -> None:
    """Count both mirrors and print the instructions per item and of start-up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=300)
    parser.add_argument("--large", type=int, default=900)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    if args.large <= args.small:
        raise SystemExit("--large must be more files than --small")
    with common.scratch() as name:
        tmp = Path(name)
        counts = {}
        with common.running_gate(tmp / "gate") as gate:
            project = f"bench-{uuid.uuid4().hex[:8]}"
            asyncio.run(common.make_datasets(gate, project, ["small", "large"]))
            for side, files in (("small", args.small), ("large", args.large)):
                tree = common.write_tree(tmp / side, count=files, folders=20, size=16384,
                                         boxes=5)
                counts[side] = count(tree, gate, project, side, tmp)
    per_item = (counts["large"] - counts["small"]) / (args.large - args.small)
    start_up = counts["small"] - per_item * args.small
    print(f"{args.small} files: {counts['small']:,} instructions; {args.large} files: "
          f"{counts['large']:,}")
    print(f"per item: {per_item / 1e6:.3f} M instructions; start-up: {start_up / 1e9:.2f} G")


if __name__ == "__main__":
    sys.exit(main())
