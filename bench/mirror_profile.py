"""Where a first mirror's time goes, thread by thread: a sampling profile with py-spy.

Writes the benchmark's tree (``--files`` files of 16 KiB, 5 boxes each, 20 folders), starts a
``dlsync gate serve --port 0 --data DIR``, warms it with a first mirror of the whole tree into
a dataset of its own (so the profiled run finds every blob stored, as in
``mirror_vs_dtlpy.py``), waits for the 1-minute load to fall under ``--max-load``, and then
records one ``dlsync mirror`` of the tree into an empty dataset with
``py-spy record --threads --idle -f raw``. The report gives, for each part of dlsync (the event
loop's thread, the planner, the state writer), how long it was busy, how much of its time it
waited where that shows (the loop in its poll, the planner for room in the job stream), and
the share each part of its work took of the busy samples. The sampler slows the run; the
shares, not its seconds, are the result.

py-spy is not one of dlsync's dependencies: ``pip install py-spy`` (or ``--py-spy PATH``).

    .venv/bin/python bench/mirror_profile.py [--files 5000] [--rate 250] [--keep FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import common

SIZE = 16 * 1024
BOXES = 5
FOLDERS = 20

WAITING_LEAVES = ("Condition.wait (threading.py", "Runner.run (asyncio/runners.py")
"""A sample whose innermost frame is one of these is a thread waiting: the planner and the
writer on their queues, the event loop's thread inside uvloop's run (its poll, in C)."""

PARTS: dict[str, tuple[tuple[str, str], ...]] = {
    "event loop": (
        ("the annotation post", "sync_annotations"),
        ("the upload request", "Executor._upload"),
        ("imports (start-up)", "<frozen importlib"),
        ("state bookkeeping", "dlsync/state/"),
    ),
    "planner": (
        ("hashing the file", "dlsync/local/fingerprint.py"),
        ("the annotation file (read, check, hash)", "dlsync/local/annotations.py"),
        ("the annotation file (read, check, hash)", "dlsync/local/document.py"),
        ("the scan and the march against the state", "dlsync/local/scan.py"),
        ("the scan and the march against the state", "dlsync/push/march.py"),
        ("reading the state", "dlsync/state/"),
        ("handing jobs to the event loop", "dlsync/push/handoff.py"),
    ),
    "state writer": (
        ("SQLite writes", "dlsync/state/"),
    ),
}
"""Per role, the parts of its work: a busy sample goes to the first part one of whose markers
appears in its stack (a frame's text), or to "other". The annotation post runs inside the
upload's item step, so it is looked for first."""


@dataclass
class RoleProfile:
    """One role's samples: how many, how many waiting, and the busy ones by part."""

    samples: int = 0
    waiting: int = 0
    parts: Counter[str] = field(default_factory=Counter)

    @property
    def busy(self) -> int:
        return self.samples - self.waiting


def role_of(frames: list[str], main: bool) -> str | None:
    """Which part of dlsync a sample shows at work: the event loop's thread (``main``), the
    planner (its walk is on the stack) or the state writer (its modules are), else ``None``
    (a pooled worker thread between tasks, or anything else). Roles go by stack, not by
    thread: anyio's pooled threads take the planner's walk and the writer's commits in turn."""
    if main:
        return "event loop"
    text = ";".join(frames)
    if "Planner.walk" in text:
        return "planner"
    if "dlsync/state/" in text:
        return "state writer"
    return None


def breakdown(lines: Iterable[str]) -> dict[str, RoleProfile]:
    """Read py-spy's raw (collapsed) output, ``thread (TID): NAME;frame;...;frame COUNT``, into
    the samples of each role. A thread is the main one when any of its samples names it
    ``MainThread`` (its first samples may carry no name yet)."""
    samples: list[tuple[str, list[str], int]] = []
    main: set[str] = set()
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        tid = frames[0].partition(")")[0]
        if "MainThread" in frames[0]:
            main.add(tid)
        samples.append((tid, frames, int(count)))
    profiles: dict[str, RoleProfile] = {}
    for tid, frames, n in samples:
        role = role_of(frames, tid in main)
        if role is None:
            continue
        profile = profiles.setdefault(role, RoleProfile())
        profile.samples += n
        if frames[-1].startswith(WAITING_LEAVES):
            profile.waiting += n
        else:
            profile.parts[_part(frames, role)] += n
    return profiles


def _part(frames: list[str], role: str) -> str:
    for name, marker in PARTS[role]:
        if any(marker in frame for frame in frames[1:]):
            return name
    return "other"


def report(profiles: dict[str, RoleProfile], rate: int) -> str:
    """Per role: its busy samples (as seconds at ``rate``) and, where the role's waits show
    on its stack (the loop's poll, the planner waiting for room), the share it waited; then
    each part's share of the busy samples."""
    lines = []
    for role in ("event loop", "planner", "state writer"):
        profile = profiles.get(role)
        if profile is None or not profile.samples:
            continue
        waited = (f", waiting in {100 * profile.waiting / profile.samples:.0f} % of its "
                  f"{profile.samples} samples" if profile.waiting else "")
        lines.append(f"{role}: busy {profile.busy / rate:.2f} s ({profile.busy} samples)"
                     f"{waited}")
        for name, n in profile.parts.most_common():
            lines.append(f"  {name}: {100 * n / max(profile.busy, 1):.1f} % of the busy ones")
    return "\n".join(lines)


def main() -> None:
    """Build the tree, warm a gate, profile one mirror, print the breakdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    parser.add_argument("--max-load", type=float, default=0.5)
    parser.add_argument("--py-spy", default="py-spy", help="the py-spy to run")
    parser.add_argument("--keep", type=Path, help="also keep py-spy's raw output here")
    args = parser.parse_args()
    if shutil.which(args.py_spy) is None:
        sys.exit("py-spy not found: pip install py-spy, or give --py-spy PATH")
    with common.scratch() as tmp:
        root = Path(tmp)
        tree = common.write_tree(root / "tree", count=args.files, folders=FOLDERS, size=SIZE,
                                 boxes=BOXES)
        with common.running_gate(root / "gate") as gate:
            env = common.mirror_env(gate, root / "home")
            warm = common.mirror_command(tree, gate, project="profile", dataset="warm",
                                         state=root / "warm.db", extra=["--labels", "off"])
            common.run_mirror(warm, env)
            load = common.wait_quiet(args.max_load)
            raw = args.keep or root / "profile.txt"
            command = common.mirror_command(tree, gate, project="profile", dataset="profiled",
                                            state=root / "profiled.db",
                                            extra=["--labels", "off"])
            started = time.perf_counter()
            subprocess.run([args.py_spy, "record", "--threads", "--idle", "-r", str(args.rate),
                            "-f", "raw", "-o", str(raw), "--", *command], env=env, check=True,
                           capture_output=True)
            wall = time.perf_counter() - started
            verdict = asyncio.run(common.verify_dataset(gate, "profile", "profiled",
                                                        items=args.files,
                                                        annotations=args.files * BOXES))
        with raw.open(encoding="utf-8") as lines:
            profiles = breakdown(lines)
    print(f"{args.files} files of 16 KiB, {BOXES} boxes each, into a warmed gate; load "
          f"{load:.2f} before the profiled run, which took {wall:.2f} s under the sampler "
          f"({args.rate} Hz)")
    print(report(profiles, args.rate))
    print(f"verified: {verdict}")


if __name__ == "__main__":
    main()
