"""How soon ``dlsync run`` puts a change on the platform, and how fast it drains a burst.

Against a ``dlsync gate serve --port 0 --memory`` subprocess and a ``dlsync run`` subprocess
(default settings: settle 1 s), in the same run:

- latency: 200 single-file changes, one at a time with short random gaps; for each, the delay
  from the end of the file's last write to the moment a listing of the dataset by that path
  finds the item (polled every 20 ms). Reported as p50, p95 and max.
- burst written in place: 5,000 files written at once into a new folder while the service
  runs; the sustained rate is files / (last item listable - first write), and the same less
  the settle time. The writing itself competes for the machine's two cores with the gate and
  the service (writing 5,000 files alone takes this disk about 1.7 s), so it bounds the rate;
  the report says how long it took;
- burst moved in: 5,000 files written into a folder outside the source, left until quiet,
  then moved in with one rename (how a camera dump or a copy tool often lands); the rate is
  files / (last item listable - the rename): the service's drain alone;
- baseline: the same 5,000 files go through ``dlsync mirror`` into a fresh dataset of the
  same gate, right after each run's bursts: files / wall time (start-up included), and each
  run's own ratios of the service's rates to it.

Each burst runs ``--runs`` times (median reported), each once the machine is quiet.

    .venv/bin/python bench/service_latency.py [--quick] [--changes 200] [--burst 5000]
        [--runs 3] [--settle 1.0] [--no-docs] [--log FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import common

from dlsync.errors import NotFoundError
from dlsync.remote import dql
from dlsync.remote.client import DataloopClient
from dlsync.remote.credentials import Credentials
from dlsync.remote.settings import RemoteSettings

PROJECT = "bench-service"
DATASET = "live"
POLL_S = 0.02
SIZE = 1024


def write_config(work: Path, gate: common.Gate, source: Path, settle: float) -> Path:
    """A config serving ``source`` into PROJECT/DATASET on ``gate``."""
    config = work / "dlsync.toml"
    config.write_text(
        f'[state]\npath = "{work / "state.db"}"\n\n'
        f'[remotes.gate]\nurl = "{gate.url}"\n\n'
        f'[pairs.live]\nsource = "{source}"\nremote = "gate"\nproject = "{PROJECT}"\n'
        f'dataset = "{DATASET}"\ncreate = true\nannotations = "none"\nsettle = {settle}\n')
    return config


@contextmanager
def running_service(config: Path, env: dict[str, str], log: Path) -> Iterator[int]:
    """``dlsync run`` for the block, returned (its pid) once it logged that it is ready."""
    with log.open("ab") as err:
        process = subprocess.Popen(common.dlsync_command("--log-json", "run", "--config",
                                                         str(config)),
                                   stdout=subprocess.DEVNULL, stderr=err, env=env)
    try:
        deadline = time.monotonic() + 60
        while "service ready" not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dlsync run did not start: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        yield process.pid
    finally:
        process.terminate()
        code = process.wait(timeout=60)
        if code != 0:
            raise RuntimeError(f"dlsync run exited {code}: {log.read_text()[-2000:]}")


async def dataset_id(client: DataloopClient) -> str:
    """The dataset's id, once the service has created it."""
    while True:
        try:
            project = await client.get_project(PROJECT)
            return (await client.get_dataset(project["id"], DATASET))["id"]
        except NotFoundError:
            await asyncio.sleep(POLL_S)


async def listed(client: DataloopClient, dataset: str, filename: str) -> float:
    """Poll the listing by ``filename`` until the item is there; when it was first seen."""
    while True:
        try:
            await client.get_item_by_path(dataset, filename)
            return time.perf_counter()
        except NotFoundError:
            await asyncio.sleep(POLL_S)


async def latencies(client: DataloopClient, dataset: str, folder: Path,
                    changes: int) -> list[float]:
    """Seconds from each file's last write to its item being listable, one change at a time."""
    found: list[float] = []
    rng = random.Random(7)
    for n in range(changes):
        path = folder / f"change{n:04}.bin"
        with path.open("wb") as out:
            out.write(os.urandom(SIZE))
        written = time.perf_counter()
        seen = await listed(client, dataset, f"/{folder.name}/{path.name}")
        found.append(seen - written)
        await asyncio.sleep(rng.uniform(0.05, 0.3))
    return found


def write_files(folder: Path, count: int) -> None:
    """``count`` new files of ``SIZE`` random bytes in the new folder ``folder``."""
    folder.mkdir()
    for n in range(count):
        (folder / f"b{n:05}.bin").write_bytes(os.urandom(SIZE))


async def all_listed(client: DataloopClient, dataset: str, folder: str, count: int) -> float:
    """When all ``count`` items under ``/folder`` are listable. The count is polled with a
    one-item page (``totalItemsCount``), so the poll costs the gate little while the service
    uploads; the items are then listed once to check them all."""
    under = [dql.under_folder(f"/{folder}")]
    while True:
        found = await client.probe(dataset, "items", under)
        if found.total is not None and found.total >= count:
            done = time.perf_counter()
            break
        await asyncio.sleep(POLL_S)
    items = [i async for i in client.iter_items(dataset, under)]
    if len(items) != count:
        raise AssertionError(f"{len(items)} burst items listed, expected {count}")
    return done


async def burst(client: DataloopClient, dataset: str, folder: Path,
                count: int, pid: int) -> tuple[float, float, float]:
    """Seconds from the first write of ``count`` new files to the last one being listable,
    the seconds the writing itself took, and the CPU seconds the service (``pid``) used."""
    cpu = common.cpu_seconds_of(pid)
    started = time.perf_counter()
    write_files(folder, count)
    written = time.perf_counter() - started
    done = await all_listed(client, dataset, folder.name, count)
    return done - started, written, common.cpu_seconds_of(pid) - cpu


async def moved_burst(client: DataloopClient, dataset: str, staging: Path, folder: Path,
                      count: int, settle: float, max_load: float,
                      pid: int) -> tuple[float, float]:
    """Seconds from one rename that moves ``count`` quiet files into the source to the last
    one being listable, and the CPU seconds the service (``pid``) used meanwhile."""
    write_files(staging, count)
    time.sleep(settle + 0.2)                     # every file quiet before it arrives
    common.wait_quiet(max_load)
    cpu = common.cpu_seconds_of(pid)
    started = time.perf_counter()
    staging.rename(folder)
    done = await all_listed(client, dataset, folder.name, count)
    return done - started, common.cpu_seconds_of(pid) - cpu


@dataclass(frozen=True)
class Bursts:
    """One run's figures: in place (seconds, writing seconds, the service's CPU seconds) and
    moved in (seconds, the service's CPU seconds)."""

    seconds: float
    written: float
    cpu: float
    moved: float
    moved_cpu: float


async def measure_service(gate: common.Gate, work: Path, changes: int, count: int,
                          runs: int, settle: float, max_load: float, pid: int,
                          mirror: Callable[[Path], common.Run],
                          ) -> tuple[list[float], list[Bursts], list[common.Run]]:
    """The latency samples, each run's bursts and, right after them, ``mirror`` of that run's
    in-place burst folder, through the API; each burst and mirror starts once the machine is
    quiet (load under ``max_load``)."""
    source = work / "source"
    settings = RemoteSettings(url=gate.url, rate=10_000, burst=1_000)
    async with DataloopClient(settings, Credentials(token=gate.token, source="bench")) as client:
        dataset = await dataset_id(client)
        samples = await latencies(client, dataset, source / "changes", changes)
        bursts, mirrors = [], []
        for run in range(runs):
            common.wait_quiet(max_load)
            seconds, written, burst_cpu = await burst(client, dataset, source / f"burst{run}",
                                                      count, pid)
            moved, cpu = await moved_burst(client, dataset, work / f"staged{run}",
                                           source / f"moved{run}", count, settle, max_load, pid)
            bursts.append(Bursts(seconds, written, burst_cpu, moved, cpu))
            common.wait_quiet(max_load)
            mirrors.append(mirror(source / f"burst{run}"))
    return samples, bursts, mirrors


def mirror_burst(gate: common.Gate, work: Path, folder: Path,
                 env: dict[str, str]) -> common.Run:
    """``dlsync mirror`` of the burst's files into a fresh dataset: its wall and CPU time."""
    command = common.dlsync_command("mirror", str(folder), "--remote", gate.url,
                                    "--annotations", "none", "--project", PROJECT,
                                    "--dataset", f"mirrored-{folder.name}", "--create",
                                    "--no-progress", "--json",
                                    "--state", str(work / f"mirror-{folder.name}.db"))
    run, _summary = common.run_mirror(command, env)
    return run


def percentile(samples: list[float], share: float) -> float:
    """The ``share`` quantile (nearest rank)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="5 changes, a 200-file burst, a 0.3 s settle")
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--burst", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3, help="bursts of each kind (median)")
    parser.add_argument("--settle", type=float, default=1.0)
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--log", type=Path, help="copy the service's JSON log here")
    parser.add_argument("--max-load", type=float, default=0.5,
                        help="the burst and the mirror wait until the 1-minute load is under this")
    args = parser.parse_args()
    changes, count = (5, 200) if args.quick else (args.changes, args.burst)
    settle = 0.3 if args.quick else args.settle
    runs = 1 if args.quick else args.runs
    max_load = 100.0 if args.quick else args.max_load
    with tempfile.TemporaryDirectory(prefix="dlsync-bench-") as tmp, \
            common.running_gate(None) as gate:
        work = Path(tmp)
        source = work / "source"
        (source / "changes").mkdir(parents=True)
        env = common.mirror_env(gate, work)
        config = write_config(work, gate, source, settle)
        with running_service(config, env, work / "service.log") as pid:
            samples, bursts, mirrors = asyncio.run(measure_service(
                gate, work, changes, count, runs, settle, max_load, pid,
                lambda folder: mirror_burst(gate, work, folder, env)))
        if args.log:
            shutil.copyfile(work / "service.log", args.log)
    result = summarise(samples, bursts, mirrors, count, settle)
    report(result, args, write=not (args.quick or args.no_docs))


def summarise(samples: list[float], bursts: list[Bursts], mirrors: list[common.Run], count: int,
              settle: float) -> dict[str, Any]:
    """The figures: latency percentiles, and the medians of the runs' rates."""
    def rate(seconds: list[float]) -> float:
        return count / max(common.median(seconds), 1e-9)

    return {"changes": len(samples), "p50": statistics.median(samples),
            "p95": percentile(samples, 0.95), "max": max(samples), "burst": count,
            "runs": len(bursts),
            "service_rate": rate([b.seconds for b in bursts]),
            "drain_rate": rate([b.seconds - settle for b in bursts]),
            "moved_rate": rate([b.moved for b in bursts]),
            "mirror_rate": rate([m.wall_s for m in mirrors]),
            "burst_cpu_ms": common.median([b.cpu for b in bursts]) / count * 1000,
            "moved_cpu_ms": common.median([b.moved_cpu for b in bursts]) / count * 1000,
            "mirror_cpu_ms": common.median([m.cpu_s for m in mirrors]) / count * 1000,
            "drain_ratios": [m.wall_s / max(b.seconds - settle, 1e-9)
                             for b, m in zip(bursts, mirrors, strict=True)],
            "moved_ratios": [m.wall_s / b.moved for b, m in zip(bursts, mirrors, strict=True)],
            "written": common.median([b.written for b in bursts]), "settle": settle,
            "load": os.getloadavg()[0]}


def report(r: dict[str, Any], args: argparse.Namespace, *, write: bool) -> None:
    """Print the figures; unless quick, write them as the Service section of the docs."""
    rows = common.table(
        ["measure", "dlsync run", "dlsync mirror"],
        [[f"change to listable, p50 ({r['changes']} single changes)", f"{r['p50']:.2f} s", "-"],
         ["change to listable, p95", f"{r['p95']:.2f} s", "-"],
         ["change to listable, max", f"{r['max']:.2f} s", "-"],
         [f"burst of {r['burst']:,} new files", f"{r['service_rate']:.0f} files/s",
          f"{r['mirror_rate']:.0f} files/s"],
         ["the same burst after its settle time", f"{r['drain_rate']:.0f} files/s",
          f"{r['mirror_rate']:.0f} files/s"],
         ["CPU per file of the in-place burst (the mirror's with its start-up)",
          f"{r['burst_cpu_ms']:.2f} ms", f"{r['mirror_cpu_ms']:.2f} ms"],
         [f"burst of {r['burst']:,} quiet files moved in by one rename",
          f"{r['moved_rate']:.0f} files/s", f"{r['mirror_rate']:.0f} files/s"],
         ["CPU per file of that burst (the mirror's with its start-up)",
          f"{r['moved_cpu_ms']:.2f} ms", f"{r['mirror_cpu_ms']:.2f} ms"]])
    flags = "" if args.quick else f" --changes {args.changes} --burst {args.burst}"
    notes = [f"settle = {r['settle']:g} s (the default): a file is sent once it has been quiet "
             "that long, so it is the floor of every latency; the rest is the watcher's "
             "grouping (up to 50 ms), the settle checks (at most 100 ms apart, and 20 ms "
             "after a file's first look when it is already quiet), planning, the upload and the "
             f"{POLL_S * 1000:.0f} ms listing poll.",
             "The burst rate counts from the first write to the last item listable, settle "
             "included; the rate after its settle time leaves out the settle the files wait "
             "by design (service/mirror = "
             f"{r['drain_rate'] / r['mirror_rate']:.2f}); the mirror rate is files over the "
             "command's wall time, start-up included, into a fresh dataset of the same gate.",
             f"Writing the burst's files took {r['written']:.2f} s of it; the service uploads "
             "them as they settle, the mirror starts once all of them exist. On two cores the "
             "writer, the gate and the service share the machine while it writes.",
             "The moved-in burst counts from the rename to the last item listable: the files "
             "are already quiet, as they are when the mirror starts (service/mirror = "
             f"{r['moved_rate'] / r['mirror_rate']:.2f}). Rates are medians of "
             f"{r['runs']} runs, each started once the 1-minute load was under the limit.",
             "Each run's mirror follows its bursts (same files, same gate, the service idle), so "
             "each run also gives its own ratios, which a machine whose speed drifts moves less: "
             "service/mirror after the settle "
             + ", ".join(f"{x:.2f}" for x in r["drain_ratios"])
             + f" (median {common.median(r['drain_ratios']):.2f}); moved in "
             + ", ".join(f"{x:.2f}" for x in r["moved_ratios"])
             + f" (median {common.median(r['moved_ratios']):.2f}).",
             f"Load average at the end: {r['load']:.2f}.",
             "verified: every change and every burst file was found by a listing."]
    common.report("Service", f".venv/bin/python bench/service_latency.py{flags}", rows, notes,
                  write=write)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
