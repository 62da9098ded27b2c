"""What the number of requests in flight does to the gate's cost and the bare loop's speed.

The bare loop of ``mirror_vs_dtlpy.py`` (``bare_loop.run_bare``: one aiohttp session, an upload
and one annotation post per file) runs against one gate, warmed with the whole tree, at each
``--in-flight`` count, and with ``--stamped`` also with the additions dlsync's requests carry
(the item fingerprint as upload metadata, a hash-and-op stamp in every annotation's
``metadata.user.dlsync``). Rounds
alternate their order; each run waits for the 1-minute load average to fall under
``--max-load``. Reported per variant, as medians: wall time, the client's and the gate's CPU
per item, and the host's steal and pace before the run. Every dataset is then checked through
the API: every file once, every box once.

dlsync's limit settles at 64 in flight on this gate while the benchmark's bare loop keeps 32;
this measures how much of a difference that alone makes to the gate and to both sides' CPU.

    .venv/bin/python bench/in_flight.py [--quick] [--files 3000] [--rounds 3]
        [--in-flight 32,64,128] [--stamped]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any, NamedTuple

import common
import mirror_vs_dtlpy as bare

BOXES = bare.BOXES


class Result(NamedTuple):
    """One run: wall seconds, client and gate CPU ms per item, steal share, pace before it."""

    seconds: float
    client_ms: float
    gate_ms: float
    steal: float
    pace_ms: float


def row(label: str, results: list[Result]) -> tuple[str, ...]:
    """A table row of the medians of ``results``."""
    def mid(field: str) -> float:
        return common.median([getattr(r, field) for r in results])
    return (label, f"{mid('seconds'):.2f}", f"{mid('client_ms'):.3f}", f"{mid('gate_ms'):.3f}",
            f"{mid('steal') * 100:.1f}", f"{mid('pace_ms'):.0f}")


def dlsync_stamps(rel: str, data: bytes, boxes: list[Any]) -> tuple[str, list[Any]]:
    """What dlsync's requests add to the bare loop's: the item fingerprint as upload metadata
    and a hash-and-op stamp in every box's ``metadata.user.dlsync``."""
    mark = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
            "annotations": hashlib.sha256(rel.encode()).hexdigest()}
    op = uuid.uuid4().hex
    stamped = [{**box, "metadata": {**box.get("metadata", {}), "user": {"dlsync": {
        "hash": hashlib.sha256(json.dumps(box).encode()).hexdigest(), "op": op}}}}
        for box in boxes]
    return json.dumps({"user": {"dlsync": mark}}), stamped


def main() -> None:
    """Run every variant round by round on one warmed gate; print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="200 files, one round, no waiting for a quiet machine")
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--in-flight", default="32,64,128",
                        help="comma-separated requests-in-flight counts")
    parser.add_argument("--stamped", action="store_true",
                        help="also run each count with dlsync's request additions")
    parser.add_argument("--max-load", type=float, default=0.5)
    args = parser.parse_args()
    if args.quick:
        args.files, args.rounds, args.max_load = 200, 1, 100.0
    counts = [int(n) for n in args.in_flight.split(",")]
    variants = [(n, False) for n in counts] + ([(n, True) for n in counts] if args.stamped
                                               else [])
    name = {v: f"{v[0]} in flight{', stamped' if v[1] else ''}" for v in variants}
    results: dict[tuple[int, bool], list[Result]] = {v: [] for v in variants}
    with common.scratch() as tmp_name:
        tmp = Path(tmp_name)
        tree = common.write_tree(tmp / "tree", count=args.files, folders=20, size=16 * 1024,
                                 boxes=BOXES)
        with common.running_gate(tmp / "gate") as gate:
            datasets = [f"{n}-{int(s)}-{r}" for r in range(args.rounds) for n, s in variants]
            asyncio.run(common.make_datasets(gate, "p", ["warm-up", *datasets]))
            asyncio.run(bare.run_bare(gate, tree, "p", "warm-up"))
            for round_ in range(args.rounds):
                order = variants if round_ % 2 == 0 else variants[::-1]
                for n, stamped in order:
                    load = common.wait_quiet(args.max_load)
                    pace = common.host_pace_ms()
                    gate_cpu, steal = common.cpu_seconds_of(gate.process.pid), \
                        common.steal_seconds()
                    wall, cpu = asyncio.run(bare.run_bare(
                        gate, tree, "p", f"{n}-{int(stamped)}-{round_}", in_flight=n,
                        stamp=dlsync_stamps if stamped else None))
                    gate_cpu = common.cpu_seconds_of(gate.process.pid) - gate_cpu
                    steal = common.steal_share(common.steal_seconds() - steal, wall)
                    per = 1000 / args.files
                    results[(n, stamped)].append(Result(wall, cpu * per, gate_cpu * per, steal,
                                                        pace))
                    print(json.dumps({"round": round_ + 1, "variant": name[(n, stamped)],
                                      "seconds": round(wall, 2),
                                      "cpu_ms_per_item": round(cpu * per, 3),
                                      "gate_cpu_ms_per_item": round(gate_cpu * per, 3),
                                      "load_before": round(load, 2),
                                      "steal_pct": round(steal * 100, 1),
                                      "pace_ms": round(pace)}), flush=True)
            checks = [asyncio.run(common.verify_dataset(gate, "p", dataset, items=args.files,
                                                        annotations=args.files * BOXES))
                      for dataset in datasets]
    table = common.table(
        ["variant", "seconds (median)", "client CPU ms/item", "gate CPU ms/item", "steal %",
         "pace ms"],
        [row(name[v], rs) for v, rs in results.items()])
    print(table)
    print(f"{args.files} files of 16 KiB, {BOXES} boxes each; {args.rounds} rounds on one gate "
          f"warmed with the whole tree; load under {args.max_load:g} before each run.")
    for check in checks:
        print(f"verified: {check}")


if __name__ == "__main__":
    main()
