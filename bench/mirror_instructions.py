"""Instructions per item of a first ``dlsync mirror``, counted by callgrind: a CPU measure that
does not move with the machine's load, for comparing two builds on a shared or noisy machine.

Two first mirrors of trees of ``--small`` and ``--large`` files (16 KiB, 5 boxes each) run under
``valgrind --tool=callgrind`` against one gate; the difference of their instruction counts over
the difference of their sizes is the cost of one more item, start-up excluded (it is reported
apart). Counts repeat to about 0.2 % from run to run. Wall time under valgrind means nothing, and
callgrind does not emulate SHA extensions, so the SHA-256 of each file weighs more here than on
the machine: compare builds with this, and quote times from ``mirror_vs_dtlpy.py``.
With ``--bare``, the bare loop (``bare_loop.py``, as its own process) is counted the same way,
so that dlsync's instructions per item can be set against the yardstick's.

    .venv/bin/python bench/mirror_instructions.py [--small 300] [--large 900] [--bare]

To count another build, put its checkout first on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
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
    return counted(cmd, common.mirror_env(gate, tmp / "home"), tmp)


def count_bare(tree: common.Tree, gate: common.Gate, project: str, dataset: str,
               tmp: Path) -> int:
    """Instructions of the bare loop, as its own process, filling ``dataset`` with ``tree``."""
    assert tree.ann is not None
    cmd = [sys.executable, str(Path(__file__).with_name("bare_loop.py")), gate.url, project,
           dataset, str(tree.images), str(tree.ann)]
    return counted(cmd, {**os.environ, "DLSYNC_TOKEN": gate.token}, tmp)


def counted(cmd: list[str], env: dict[str, str], tmp: Path) -> int:
    """Instructions of ``cmd`` run to its end under callgrind."""
    run = subprocess.run(["valgrind", "--tool=callgrind",
                          f"--callgrind-out-file={tmp / 'callgrind.%p'}", *cmd],
                         env=env, capture_output=True, text=True, check=False)
    found = _COLLECTED.findall(run.stderr)
    if run.returncode != 0 or not found:
        raise SystemExit(f"{cmd[0]} under callgrind failed ({run.returncode}):\n"
                         f"{run.stderr[-2000:]}")
    return int(found[-1])


def main() -> None:
    """Count both mirrors (and the bare loop's, with ``--bare``) and print the instructions
    per item and of start-up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=300)
    parser.add_argument("--large", type=int, default=900)
    parser.add_argument("--bare", action="store_true",
                        help="count the bare loop too, on the same trees and gate")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    if args.large <= args.small:
        raise SystemExit("--large must be more files than --small")
    clients = {"dlsync": count, **({"bare loop": count_bare} if args.bare else {})}
    counts: dict[str, dict[int, int]] = {client: {} for client in clients}
    with common.scratch() as name:
        tmp = Path(name)
        with common.running_gate(tmp / "gate") as gate:
            project = f"bench-{uuid.uuid4().hex[:8]}"
            datasets = [f"{client.split()[0]}-{files}" for client in clients
                        for files in (args.small, args.large)]
            asyncio.run(common.make_datasets(gate, project, datasets))
            for files in (args.small, args.large):
                tree = common.write_tree(tmp / f"tree-{files}", count=files, folders=20,
                                         size=16384, boxes=5)
                for client, counter in clients.items():
                    counts[client][files] = counter(tree, gate, project,
                                                    f"{client.split()[0]}-{files}", tmp)
    for client, by_size in counts.items():
        small, large = by_size[args.small], by_size[args.large]
        per_item = (large - small) / (args.large - args.small)
        start_up = small - per_item * args.small
        print(f"{client}: {args.small} files: {small:,} instructions; {args.large} files: "
              f"{large:,}")
        print(f"{client}: per item: {per_item / 1e6:.3f} M instructions; start-up: "
              f"{start_up / 1e9:.2f} G")


if __name__ == "__main__":
    sys.exit(main())
