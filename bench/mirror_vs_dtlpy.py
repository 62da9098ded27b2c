"""First upload of a tree with annotations: ``dlsync mirror`` against dtlpy and a bare loop.

Each round starts one gate subprocess (``dlsync gate serve --port 0 --data <tmp>``, with
``--latency-ms`` when asked) and runs the three clients against it, each into its own empty
dataset, each once the machine is quiet (1-minute load average under ``--max-load``):

(a) ``dlsync mirror <tree> --annotations <ann> ... --create`` as a subprocess (fresh state);
(b) dtlpy 1.126.5: ``dataset.items.upload(local_path='<tree>/*', local_annotations_path=<ann>)``;
(c) a bare aiohttp loop, one session and 32 requests in flight, one upload and one annotation
    post per file and no bookkeeping: the most any client gets out of this gate. It runs as
    its own process (``bench/bare_loop.py``) and is timed as dlsync is, from exec to exit; the
    seconds of its loop's call alone, which it reports itself, are given beside.

Each dataset is then checked through the API: every file once, every box once. The report
gives medians over the rounds, with CPU time per item of each client beside its wall time, and
dlsync's ratios to the bare loop round by round (bare and dlsync swap order every round), which
a machine whose speed drifts between rounds moves less than the ratio of the medians. Each
fresh gate is first warmed up by the bare loop with the whole tree, unmeasured. A new gate
process spends more CPU per request on its first few thousand requests, and the gate stores
each content once (``<data>/blobs/<sha256>``): the first client to send a file creates its blob,
every later one finds it there. Warmed with part of the tree, the gate did more work for
whichever client went first in a round (0.2-0.35 ms more of the gate's CPU per item, 5,000
files, 2,000 warmed up); warmed with all of it, it does the same work for every client.

A round in which the hypervisor took more than ``--max-steal`` percent of the cores from the
bare loop's run or from dlsync's (steal, read from /proc/stat; the load average does not show
it) is set aside and run again, up to ``--max-rounds`` rounds in all: a machine that loses a
tenth of its cores to another tenant is not a quiet one, and the loss falls on whichever client
ran then. Set-aside rounds are still printed and listed in the report; if too few rounds stay
under the limit, the least-stolen set-aside rounds fill the medians and the report says so.

    .venv/bin/python bench/mirror_vs_dtlpy.py [--quick] [--files 5000] [--runs 3]
        [--latency-ms 100] [--skip-dtlpy] [--max-steal 5] [--max-rounds 9] [--no-docs]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import common
from bare_loop import run_bare

SIZE = 16 * 1024
BOXES = 5
FOLDERS = 20
WORKERS = 0  # 0: dlsync's own default
LOW = "dlsync, low priority"
"""The client ``--low-priority`` adds: dlsync with ``DLSYNC_PRIORITY=low`` (niceness 10)."""


@dataclass(frozen=True)
class Side:
    """One client's run: wall seconds, CPU seconds of the client alone, load before it, the
    CPU seconds the gate spent serving it, the share of the cores the hypervisor took
    meanwhile (steal), and the host's pace just before it (``common.host_pace_ms``); and the
    seconds the gate waited, runnable, for a core meanwhile and the span both gate figures
    cover (``common.sched_seconds_of``): the client's whole process, start-up included
    (dtlpy's: its upload call). For the bare loop, which runs as its own process like dlsync,
    ``seconds`` and ``cpu_s`` are its whole process's, and ``call_s`` and ``call_cpu_s`` those
    of its loop's call alone, as this benchmark measured the loop up to 2026-12-02."""

    seconds: float
    cpu_s: float
    load: float
    gate_cpu_s: float = 0.0
    steal: float = 0.0
    pace_ms: float = 0.0
    gate_waited_s: float = 0.0
    span_s: float = 0.0
    call_s: float = 0.0
    call_cpu_s: float = 0.0

    @property
    def gate_idle_s(self) -> float:
        """Seconds of the span the gate had nothing to do (neither running nor runnable)."""
        return self.span_s - self.gate_cpu_s - self.gate_waited_s


@dataclass(frozen=True)
class Stealing:
    """The steal limit a round had to stay under; for each round set aside, its steal (the
    larger of its two clients') and its wall ratio (dlsync/bare, as the kept rounds'); and how
    many of those still filled the medians."""

    limit_pct: float
    set_aside: list[tuple[float, float]]
    filled: int


Round = tuple[dict[str, Side], dict[str, Any]]
"""One round: each client's ``Side``, and dlsync's JSON summary."""


def medians_from(kept: list[Round], set_aside: list[Round], runs: int) -> list[Round]:
    """The rounds the medians are taken over: every kept round, then, when fewer than ``runs``
    were kept, the least-stolen set-aside rounds up to ``runs``."""
    return kept + sorted(set_aside, key=lambda r: _stolen(r[0]))[:max(0, runs - len(kept))]


def _stolen(round_: dict[str, Side]) -> float:
    """The larger share of the cores the hypervisor took from the round's bare or dlsync run."""
    return max(round_[side].steal for side in ("bare", "dlsync"))


def run_dlsync(gate: common.Gate, tree: common.Tree, project: str, dataset: str,
               tmp: Path, env: dict[str, str] | None = None) -> tuple[common.Run, dict[str, Any]]:
    """(a) One ``dlsync mirror`` subprocess with its default settings (or ``--workers``), with
    ``env`` added to its environment; labels are off, as for the others (none of them touches
    the ontology)."""
    extra = ["--labels", "off", *(["--workers", str(WORKERS)] if WORKERS else [])]
    command = common.mirror_command(tree, gate, project=project, dataset=dataset,
                                    state=tmp / f"{dataset}.db", extra=extra)
    run, summary = common.run_mirror(command,
                                     {**common.mirror_env(gate, tmp / "home"), **(env or {})})
    done = summary["outcomes"].get("upload.done", 0)
    if done != tree.count:
        raise AssertionError(f"dlsync uploaded {done} of {tree.count}: {summary}")
    return run, summary


def run_bare_process(gate: common.Gate, tree: common.Tree, project: str,
                     dataset: str) -> tuple[float, float, tuple[float, float]]:
    """(c) The bare loop as its own process (``bare_loop.py``): its wall and CPU seconds from
    exec to exit, and those of its loop's call alone (what it reports)."""
    assert tree.ann is not None
    script = Path(__file__).with_name("bare_loop.py")
    run = common.timed_run([sys.executable, str(script), gate.url, project, dataset,
                            str(tree.images), str(tree.ann)],
                           {**os.environ, "DLSYNC_TOKEN": gate.token})
    if run.code != 0:
        raise RuntimeError(f"the bare loop exited {run.code}: {run.stderr[-2000:]}")
    call = json.loads(run.stdout)
    return run.wall_s, run.cpu_s, (float(call["seconds"]), float(call["cpu_s"]))


def import_dtlpy(home: Path) -> Any:
    """dtlpy with its cookie, caches and logs under ``home`` (read at import time)."""
    os.environ["DATALOOP_PATH"] = str(home / "dataloop")
    os.environ["HOME"] = str(home)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import dtlpy
    return dtlpy


def dtlpy_on(gate: common.Gate, home: Path) -> Any:
    """dtlpy (home under ``home``), pointed at ``gate`` and logged in with its token."""
    dl = import_dtlpy(home)
    dl.verbose.disable_progress_bar = True
    root = gate.url.removesuffix("/api/v1")
    dl.add_environment(environment=gate.url, alias="bench-gate", gate_url=root, url=root + "/",
                       verify_ssl=False)
    dl.setenv("bench-gate")
    dl.login_token(gate.token)
    return dl


def run_dtlpy(gate: common.Gate, tree: common.Tree, project: str, dataset: str,
              home: Path) -> tuple[float, float]:
    """(b) Seconds and CPU seconds of one dtlpy ``items.upload`` of the tree and annotations."""
    dl = dtlpy_on(gate, home)
    target = dl.projects.get(project_name=project).datasets.get(dataset_name=dataset)
    started, cpu = time.perf_counter(), common.cpu_seconds()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # no trailing slash on local_path: with one, dtlpy silently skips every annotation
        target.items.upload(local_path=f"{tree.images}/*", local_annotations_path=str(tree.ann),
                            raise_on_error=True)
    return time.perf_counter() - started, common.cpu_seconds() - cpu


def main() -> None:
    """Build the tree, run the three uploads round by round, verify, report the medians."""
    global WORKERS  # one run uses one worker count throughout
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 files, one round (seconds)")
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="the gate adds this much to every request (a network's round trip)")
    parser.add_argument("--max-load", type=float, default=0.5,
                        help="each run waits until the 1-minute load average is under this")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument("--workers", type=int, default=0,
                        help="dlsync's --workers (default: dlsync's own defaults, no flag)")
    parser.add_argument("--skip-dtlpy", action="store_true",
                        help="dlsync against the bare loop only (comparing two dlsync builds)")
    parser.add_argument("--max-steal", type=float, default=5.0,
                        help="set a round aside when either the bare loop's or dlsync's run "
                        "lost more than this percent of the cores to steal (100: never)")
    parser.add_argument("--low-priority", action="store_true",
                        help="also run dlsync with --priority low in every round (niceness "
                        "10; its default keeps the niceness: docs/operations.md, \"CPU "
                        "priority\")")
    parser.add_argument("--max-rounds", type=int, default=0,
                        help="rounds to run at most, set-aside ones included (default: 3 x "
                        "--runs)")
    args = parser.parse_args()
    WORKERS = args.workers
    count, runs = (200, 1) if args.quick else (args.files, args.runs)
    max_load = 100.0 if args.quick else args.max_load
    max_steal = 100.0 if args.quick else args.max_steal
    max_rounds = args.max_rounds or 3 * runs
    timed = ["bare", "dlsync"] + ([LOW] if args.low_priority else [])
    sides = timed + ([] if args.skip_dtlpy else ["dtlpy"])
    results: dict[str, list[Side]] = {side: [] for side in sides}
    summaries: list[dict[str, Any]] = []
    checks: list[str] = []
    faults = ["--latency-ms", f"{args.latency_ms:g}"] if args.latency_ms else []
    with common.scratch() as tmp_name:
        tmp = Path(tmp_name)
        tree = common.write_tree(tmp / "tree", count=count, folders=FOLDERS, size=SIZE,
                                 boxes=BOXES)
        kept: list[Round] = []
        set_aside: list[Round] = []
        round_ = 0
        while len(kept) < runs and round_ < max_rounds:
            with common.running_gate(tmp / f"gate{round_}", faults=faults) as gate:
                project = f"bench-{uuid.uuid4().hex[:8]}"
                asyncio.run(common.make_datasets(gate, project, [*sides, "warm-up"]))
                # a fresh gate serves its first thousands of requests at more CPU each, and
                # the first upload of a content creates its blob: both would weigh on
                # whichever client went first
                asyncio.run(run_bare(gate, tree, project, "warm-up"))
                # bare and dlsync swap places every round (with dlsync at low priority too,
                # the three rotate), so a drift in the machine's speed does not always
                # favour the same one; dtlpy (ten times slower) goes last
                order = timed[::-1] if len(timed) == 2 and round_ % 2 else \
                    timed[round_ % len(timed):] + timed[:round_ % len(timed)]
                this: dict[str, Side] = {}
                summary: dict[str, Any] = {}
                for side in order + sides[len(timed):]:
                    load = common.wait_quiet(max_load)
                    pace = common.host_pace_ms()
                    steal = common.steal_seconds()
                    ran, waited = common.sched_seconds_of(gate.process.pid)
                    span = time.perf_counter()
                    call = (0.0, 0.0)
                    if side == "bare":
                        wall, cpu, call = run_bare_process(gate, tree, project, side)
                    elif side == "dlsync":
                        run, summary = run_dlsync(gate, tree, project, side, tmp)
                        wall, cpu = run.wall_s, run.cpu_s
                    elif side == LOW:
                        run, _ = run_dlsync(gate, tree, project, side, tmp,
                                            env={"DLSYNC_PRIORITY": "low"})
                        wall, cpu = run.wall_s, run.cpu_s
                    else:
                        wall, cpu = run_dtlpy(gate, tree, project, side, tmp / "dtlpy-home")
                    span = time.perf_counter() - span
                    ran_after, waited_after = common.sched_seconds_of(gate.process.pid)
                    gate_cpu = ran_after - ran
                    steal = common.steal_share(common.steal_seconds() - steal, wall)
                    this[side] = Side(wall, cpu, load, gate_cpu, steal, pace,
                                      waited_after - waited, span, *call)
                    print(json.dumps({"round": round_ + 1, "client": side,
                                      "seconds": round(wall, 2),
                                      **({"call_seconds": round(call[0], 2)}
                                         if side == "bare" else {}),
                                      "cpu_ms_per_item": round(cpu / count * 1000, 3),
                                      "gate_cpu_ms_per_item": round(gate_cpu / count * 1000,
                                                                    3),
                                      "load_before": round(load, 2),
                                      "steal_pct": round(steal * 100, 1),
                                      "pace_ms": round(pace),
                                      "gate_s": {"ran": round(gate_cpu, 2),
                                                 "waited": round(waited_after - waited, 2),
                                                 "idle": round(this[side].gate_idle_s, 2)}}),
                          flush=True)
                checks += [asyncio.run(common.verify_dataset(
                    gate, project, side, items=count, annotations=count * BOXES))
                    for side in sides]
            round_ += 1
            stolen = _stolen(this)
            if stolen * 100 > max_steal:
                print(json.dumps({"round": round_, "set_aside": True,
                                  "steal_pct": round(stolen * 100, 1)}), flush=True)
                set_aside.append((this, summary))
            else:
                kept.append((this, summary))
        chosen = medians_from(kept, set_aside, runs)
        for this, summary in chosen:
            for side in sides:
                results[side].append(this[side])
            summaries.append(summary)
    stealing = Stealing(max_steal, [(_stolen(r[0]), r[0]["bare"].seconds /
                                           r[0]["dlsync"].seconds) for r in set_aside],
                        len(chosen) - len(kept))
    report(args, count, results, summaries, checks, stealing)


def report(args: argparse.Namespace, count: int, results: dict[str, list[Side]],
           summaries: list[dict[str, Any]], checks: list[str], stealing: Stealing) -> None:
    """Print the medians and ratios; write them to docs/benchmarks.md unless told not to."""
    seconds = {side: common.median([r.seconds for r in rs]) for side, rs in results.items()}
    cpu = {side: common.median([r.cpu_s for r in rs]) / count * 1000
           for side, rs in results.items()}
    gate = {side: common.median([r.gate_cpu_s for r in rs]) / count * 1000
            for side, rs in results.items()}
    loads = {side: max(r.load for r in rs) for side, rs in results.items()}
    rows = [(side, f"{seconds[side]:.2f}", f"{count / seconds[side]:.0f}", f"{cpu[side]:.2f}",
             f"{gate[side]:.2f}", ", ".join(f"{r.seconds:.2f}" for r in results[side]),
             f"{loads[side]:.2f}")
            for side in results]
    bares = results["bare"]
    call = common.median([r.call_s for r in bares])
    call_cpu = common.median([r.call_cpu_s for r in bares]) / count * 1000
    rows.insert(1, ("bare, its loop's call alone", f"{call:.2f}", f"{count / call:.0f}",
                    f"{call_cpu:.2f}", "", ", ".join(f"{r.call_s:.2f}" for r in bares), ""))
    text = common.table(["client", "seconds (median)", "items/s", "CPU ms/item",
                         "gate CPU ms/item", "every run", "highest load before a run"], rows)
    rounds = list(zip(bares, results["dlsync"], strict=True))
    walls = [b.seconds / d.seconds for b, d in rounds]
    cpus = [d.cpu_s / b.cpu_s for b, d in rounds]
    call_walls = [b.call_s / d.seconds for b, d in rounds]
    call_cpus = [d.cpu_s / b.call_cpu_s for b, d in rounds]
    cores = os.cpu_count() or 1
    # client and gate share the machine: a run takes at least its busier process's CPU time,
    # and at least both processes' CPU spread over every core
    floor = {side: max(cpu[side], gate[side], (cpu[side] + gate[side]) / cores) * count / 1000
             for side in results}
    settled = [s.get("concurrency", {}) for s in summaries]
    in_run = common.median([float(s["duration_s"]) for s in summaries])
    latency = f", the gate adding {args.latency_ms:g} ms to every request" \
        if args.latency_ms else ""
    notes = [
        f"{count} files of 16 KiB in {FOLDERS} folders, {BOXES} boxes each "
        f"({count * BOXES} annotations){latency}; median of {len(summaries)} rounds, each "
        "round on a fresh gate (`--data`), warmed up by the bare loop with the whole tree (so "
        "every client finds its files' blobs stored already), with "
        "every client into its own empty dataset, and "
        "each run started once the 1-minute load average was under "
        f"{args.max_load:g}.",
        f"dlsync/bare = {seconds['bare'] / seconds['dlsync']:.2f} (wall), CPU per item "
        f"{cpu['dlsync'] / cpu['bare']:.2f}x the bare loop's (ratios of the medians), both "
        "clients timed as whole processes, from exec to exit. Round by "
        "round, each ratio taken within its round (the two runs a minute apart at most, in "
        "alternating order): wall "
        + ", ".join(f"{w:.2f}" for w in walls) + f" (median {common.median(walls):.2f}), CPU "
        + ", ".join(f"{c:.2f}x" for c in cpus) + f" (median {common.median(cpus):.2f}x).",
        "Against the bare loop's call alone (its interpreter start-up, imports and the "
        "listing of the tree left out, dlsync's not; how this benchmark measured the loop "
        "up to 2026-12-02): dlsync/bare = "
        f"{call / seconds['dlsync']:.2f} (wall), CPU per item "
        f"{cpu['dlsync'] / call_cpu:.2f}x (ratios of the medians); round by round, wall "
        + ", ".join(f"{w:.2f}" for w in call_walls)
        + f" (median {common.median(call_walls):.2f}), CPU "
        + ", ".join(f"{c:.2f}x" for c in call_cpus)
        + f" (median {common.median(call_cpus):.2f}x).",
        f"The CPU bound: client and gate share {cores} cores, so a run takes at least the "
        "larger of its client's CPU, the gate's CPU, and both together spread over every "
        f"core: {floor['dlsync']:.2f} s for dlsync, {floor['bare']:.2f} s for the bare loop. "
        f"At the CPU it spends, dlsync could at best reach "
        f"{seconds['bare'] / floor['dlsync']:.2f} of the bare loop's measured time.",
        *([_low_note(results, seconds, cpu)] if LOW in results else []),
        *([f"dlsync/dtlpy = {seconds['dtlpy'] / seconds['dlsync']:.2f}x, "
           f"bare/dtlpy = {seconds['dtlpy'] / seconds['bare']:.2f}x."]
          if "dtlpy" in seconds else []),
        _stealing_note(stealing),
        _gate_time_note(results),
        f"dlsync's seconds include interpreter start-up; its run itself (the summary's "
        f"duration) took {in_run:.2f} s (median).",
        "Steal (the share of the cores the hypervisor took during a run, from /proc/stat; "
        "load average does not show it): "
        + "; ".join(f"{side} " + ", ".join(f"{r.steal * 100:.1f}" for r in rs)
                    for side, rs in results.items()) + " %. The host's pace before each run "
        "(ms for one fixed Python loop; lower is faster): "
        + "; ".join(f"{side} " + ", ".join(f"{r.pace_ms:.0f}" for r in rs)
                    for side, rs in results.items()) + ".",
        "dlsync ran as `dlsync mirror DIR --annotations ANN ... --create --labels off` with its "
        "defaults"
        + (f" and `--workers {WORKERS}`" if WORKERS else "")
        + "; its priority: "
        + ", ".join(sorted({f"{p.get('asked', '?')} (niceness {p.get('niceness', '?')})"
                            for p in (s.get("priority") or {} for s in summaries)}))
        + "; its event loop: "
        + ", ".join(sorted({str(s.get("event_loop", "?")) for s in summaries}))
        + "; the concurrency it settled at, per round: "
        + "; ".join(f"{c.get('settled', '?')} (cap {c.get('cap', '?')}, "
                    f"highest {c.get('highest', '?')})" for c in settled) + ".",
        "The bare loop: one aiohttp session, 32 requests in flight, an upload and one "
        "annotation post per file, no state, no hashing, no checks, on asyncio's own event "
        "loop (`asyncio.run`), run as its own process (`bench/bare_loop.py`); its CPU and "
        "dlsync's are their whole process's (`wait4`), dtlpy's that of its upload call in "
        "the benchmark's process.",
        *[f"verified: {check}" for check in checks],
    ]
    title = "First mirror vs dtlpy vs a bare loop"
    command = "python bench/mirror_vs_dtlpy.py"
    if args.latency_ms:
        title += f", {args.latency_ms:g} ms latency"
        command += f" --files {args.files} --latency-ms {args.latency_ms:g}"
    common.report(title, command, text, notes, write=not args.no_docs and not args.quick)


def _low_note(results: dict[str, list[Side]], seconds: dict[str, float],
              cpu: dict[str, float]) -> str:
    """dlsync at low priority against the bare loop, and against dlsync at its default."""
    rounds = list(zip(results["bare"], results["dlsync"], results[LOW], strict=True))
    walls = [b.seconds / low.seconds for b, _, low in rounds]
    slower = [low.seconds / d.seconds for _, d, low in rounds]
    gates = [low.gate_cpu_s / d.gate_cpu_s for _, d, low in rounds]
    return (f"dlsync at `--priority low`/bare = {seconds['bare'] / seconds[LOW]:.2f} (wall), "
            f"CPU per item {cpu[LOW] / cpu['bare']:.2f}x (ratios of the medians); round by "
            "round, wall " + ", ".join(f"{w:.2f}" for w in walls)
            + f" (median {common.median(walls):.2f}). Low priority against the default, round "
            "by round, low's seconds over the default's: " + ", ".join(f"{r:.2f}" for r in slower)
            + f" (median {common.median(slower):.2f}); the gate's CPU serving it, low's over "
            "the default's: " + ", ".join(f"{g:.2f}" for g in gates)
            + f" (median {common.median(gates):.2f}).")


def _gate_time_note(results: dict[str, list[Side]]) -> str:
    """Where the gate's time went while each client ran: the gap's three parts, in seconds."""
    parts = []
    for side, rs in results.items():
        if side == "dtlpy":
            continue
        ran = common.median([r.gate_cpu_s for r in rs])
        waited = common.median([r.gate_waited_s for r in rs])
        idle = common.median([r.gate_idle_s for r in rs])
        parts.append(f"{side} {ran:.2f} running, {waited:.2f} waiting for a core, "
                     f"{idle:.2f} idle")
    return ("Where the gate's time went during each client's run (median seconds, from "
            "/proc/PID/task/*/schedstat, over the span of each client's whole process, "
            "start-up included): "
            + "; ".join(parts) + ". Waiting for a core is time it was ready to serve a request "
            "and a client's thread held both cores; idle is time it had no request to serve.")


def _stealing_note(stealing: Stealing) -> str:
    """What the report says about the rounds set aside for steal."""
    if stealing.limit_pct >= 100:
        return "Rounds were not screened for steal (`--max-steal 100`, or `--quick`)."
    if not stealing.set_aside:
        return (f"No round was set aside: in each, neither client's run lost more than "
                f"{stealing.limit_pct:g} % of the cores to steal.")
    rounds = ", ".join(f"{share * 100:.1f} % (wall {ratio:.2f})"
                       for share, ratio in stealing.set_aside)
    note = (f"{len(stealing.set_aside)} round(s) set aside and run again, because a client's "
            f"run in it lost more than {stealing.limit_pct:g} % of the cores to steal: "
            f"{rounds}.")
    if stealing.filled:
        note += (f" Too few rounds stayed under the limit: the {stealing.filled} least-stolen "
                 "of those set aside fill the medians below.")
    return note


if __name__ == "__main__":
    main()
