"""Checkout: ``dlsync pull --items`` against dtlpy's ``dataset.download``, on one gate, one run.

The dataset is seeded straight into a gate data directory through the gate's store: ``--items``
files of 16 KiB of distinct random bytes in 5 folders, each with dlsync's fingerprint and three
annotations. One gate subprocess serves it to four checkouts, each into an empty folder:

(a) ``dlsync pull --items --annotations none`` (items only), a subprocess with fresh state;
(b) ``dlsync pull --items`` (items and a sidecar JSON annotation file each);
(c) dtlpy 1.126.5 ``dataset.download(local_path=...)`` (items only);
(d) dtlpy ``dataset.download(local_path=..., annotation_options=[ViewAnnotationOptions.JSON])``.

Each is run ``--runs`` times (interleaved, a, b, c, d, a, b, ...) and the median is reported,
with items/s, dlsync's CPU per item (user + system of the child process, ``wait4``), the ratios
dlsync / dtlpy (dtlpy's seconds over dlsync's: above 1 means dlsync is faster) and the load
average before each run. Every checkout is verified: each file present with the right bytes,
and with annotations, an annotation file per item holding its three annotations.

    .venv/bin/python bench/checkout_vs_dtlpy.py [--items 5000] [--runs 3] [--quick] [--no-docs]

Without ``--no-docs`` the table goes to the "Checkout" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import resource
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from mirror_vs_dtlpy import dtlpy_on
from pull_annotations import annotate_every_file, seed_blob

from dlsync.gate.documents import FileUpload
from dlsync.gate.server import DATABASE_FILE
from dlsync.gate.store import Blob, Store

SIZE = 16 * 1024
FOLDERS = 5
PROJECT, DATASET = "bench", "checkout"
USER = "bench@dlsync.test"
MODES = ("dlsync items", "dlsync + JSON", "dtlpy items", "dtlpy + JSON")


def seed(data: Path, count: int) -> dict[str, str]:
    """``count`` distinct 16 KiB items with fingerprints and three annotations each, stored
    into the gate data directory ``data``; their SHA-256 by path relative to the dataset root."""
    expected: dict[str, str] = {}
    uploads = []
    per = -(-count // FOLDERS)
    for n in range(count):
        sha = seed_blob(data, os.urandom(SIZE))
        rel = f"d{n // per:02d}/f{n:06d}.jpg"
        expected[rel] = sha
        mark = {"dlsync": {"sha256": sha, "size": SIZE, "annotations": None}}
        uploads.append(FileUpload("/" + rel, Blob(sha256=sha, size=SIZE, mimetype="image/jpeg"),
                                  metadata={"user": mark}))
    with contextlib.closing(Store(data / DATABASE_FILE)) as store:
        project = store.create_project(PROJECT, USER)
        dataset = store.create_dataset({"name": DATASET, "projects": [project["id"]]}, USER)
        # one transaction for every item, each with its own blob and fingerprint
        store.seed_uploads(dataset["id"], uploads, USER)
        annotate_every_file(store, dataset["id"])
    return expected


def verify_items(root: Path, expected: dict[str, str]) -> None:
    """Every expected file under ``root`` with the right bytes, nothing missing."""
    for rel, sha in expected.items():
        path = root / rel
        if not path.is_file():
            raise AssertionError(f"{path} is missing")
        if hashlib.sha256(path.read_bytes()).hexdigest() != sha:
            raise AssertionError(f"{path} has the wrong bytes")


def verify_annotations(paths: list[Path]) -> None:
    """Each annotation file exists and holds the three annotations seeded."""
    for path in paths:
        notes = json.loads(path.read_text(encoding="utf-8")).get("annotations")
        if not isinstance(notes, list) or len(notes) != 3:
            raise AssertionError(f"{path}: expected 3 annotations, got {notes!r:.200}")


def load() -> float:
    return os.getloadavg()[0]


def run_dlsync(gate: common.Gate, work: Path, expected: dict[str, str],
               annotations: bool) -> dict[str, float]:
    """One ``dlsync pull --items`` into an empty folder, with fresh state; verified."""
    folder, state = work / "checkout", work / "state.db"
    command = common.dlsync_command(
        "--log-level", "error", "pull", str(folder), "--items", "--remote", gate.url,
        "--project", PROJECT, "--dataset", DATASET, "--state", str(state), "--json",
        *([] if annotations else ["--annotations", "none"]))
    run = common.timed_run(command, common.mirror_env(gate, work / "home"))
    if run.code != 0:
        raise RuntimeError(f"dlsync pull exited {run.code}: {run.stderr[-2000:]}"
                           f"{run.stdout[-2000:]}")
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    if summary.get("downloaded") != len(expected):
        raise AssertionError(f"dlsync downloaded {summary.get('downloaded')} of "
                             f"{len(expected)}: {summary}")
    verify_items(folder, expected)
    if annotations:
        verify_annotations([folder / (rel + ".json") for rel in expected])
    return {"wall_s": run.wall_s, "cpu_s": run.cpu_s}


@contextmanager
def _scratch_in(folder: Path) -> Iterator[None]:
    """Point ``tempfile`` at ``folder`` meanwhile: dtlpy's export download leaves an
    ``annotations_jsons_*`` folder in the temporary directory, which this keeps in the
    benchmark's scratch."""
    folder.mkdir(parents=True, exist_ok=True)
    saved, tempfile.tempdir = tempfile.tempdir, str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = saved


def run_dtlpy(dataset: Any, dl: Any, work: Path, expected: dict[str, str],
              annotations: bool) -> dict[str, float]:
    """One dtlpy ``dataset.download`` into an empty folder (in this process); verified."""
    folder = work / "dtlpy"
    options = [dl.ViewAnnotationOptions.JSON] if annotations else None
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    with warnings.catch_warnings(), _scratch_in(work / "dtlpy-scratch"):
        warnings.simplefilter("ignore")
        dataset.download(local_path=str(folder), annotation_options=options)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    verify_items(folder / "items", expected)
    if annotations:
        verify_annotations([(folder / "json" / rel).with_suffix(".json") for rel in expected])
    return {"wall_s": wall, "cpu_s": after.ru_utime + after.ru_stime
            - cpu.ru_utime - cpu.ru_stime}


def measure(count: int, runs: int, tmp: Path,
            max_load: float = 100.0) -> dict[str, list[dict[str, float]]]:
    """Seed, serve, and run every mode ``runs`` times, interleaved."""
    data = tmp / "gate"
    data.mkdir()
    started = time.perf_counter()
    expected = seed(data, count)
    print(f"seeded {count} items in {time.perf_counter() - started:.1f} s", flush=True)
    results: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    with common.running_gate(data) as gate:
        dl = dtlpy_on(gate, tmp / "dtlpy-home")
        dataset = dl.projects.get(project_name=PROJECT).datasets.get(dataset_name=DATASET)
        runners: dict[str, Callable[[Path], dict[str, float]]] = {
            "dlsync items": lambda w: run_dlsync(gate, w, expected, False),
            "dlsync + JSON": lambda w: run_dlsync(gate, w, expected, True),
            "dtlpy items": lambda w: run_dtlpy(dataset, dl, w, expected, False),
            "dtlpy + JSON": lambda w: run_dtlpy(dataset, dl, w, expected, True),
        }
        for n in range(runs):
            for mode in MODES:
                work = tmp / f"run-{n}-{mode.replace(' ', '-').replace('+', 'ann')}"
                work.mkdir()
                before = common.wait_quiet(max_load)
                figures = runners[mode](work)
                figures["load"] = before
                results[mode].append(figures)
                print(f"run {n + 1}/{runs} {mode}: {figures['wall_s']:.2f} s, CPU "
                      f"{figures['cpu_s']:.2f} s, load before {before:.2f}", flush=True)
                shutil.rmtree(work, ignore_errors=True)
    return results


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run with the median wall time (the lower of the two middle ones for an even count);
    its CPU and load go with it."""
    ordered = sorted(runs, key=lambda r: r["wall_s"])
    return ordered[(len(ordered) - 1) // 2]


def render(count: int, results: dict[str, list[dict[str, float]]]) -> tuple[str, list[str]]:
    """The table and the notes (ratios)."""
    medians = {mode: median_run(runs) for mode, runs in results.items()}
    rows = []
    for mode in MODES:
        m = medians[mode]
        walls = ", ".join(f"{r['wall_s']:.2f}" for r in results[mode])
        loads = ", ".join(f"{r['load']:.2f}" for r in results[mode])
        rows.append([mode, f"{m['wall_s']:.2f} s", f"{count / m['wall_s']:.0f}",
                     f"{m['cpu_s'] / count * 1e6:,.0f} µs", walls, loads])
    table = common.table(["checkout", "median", "items/s", "CPU per item",
                          "runs (s)", "load before each"], rows)
    ratio_items = medians["dtlpy items"]["wall_s"] / medians["dlsync items"]["wall_s"]
    ratio_json = medians["dtlpy + JSON"]["wall_s"] / medians["dlsync + JSON"]["wall_s"]
    ratio_mixed = medians["dtlpy items"]["wall_s"] / medians["dlsync + JSON"]["wall_s"]
    notes = [
        f"items only: dlsync {ratio_items:.2f}x dtlpy's speed (dtlpy's median over dlsync's)",
        f"with JSON annotations: dlsync {ratio_json:.2f}x dtlpy's speed",
        f"dlsync with annotations against dtlpy's items alone: {ratio_mixed:.2f}x",
        "dlsync's CPU is its own process (wait4); dtlpy's is the benchmark process while it "
        "downloads (getrusage); the gate's is in neither.",
    ]
    return table, notes


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="200 items, one run, docs untouched")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument("--max-load", type=float, default=0.5,
                        help="each run waits until the 1-minute load average is under this")
    args = parser.parse_args(argv)
    count, runs = (200, 1) if args.quick else (args.items, args.runs)
    with common.scratch() as tmp_name:
        results = measure(count, runs, Path(tmp_name), 100.0 if args.quick else args.max_load)
    table, notes = render(count, results)
    command = "python bench/checkout_vs_dtlpy.py" + ("" if count == 5000 else f" --items {count}")\
        + ("" if runs == 3 else f" --runs {runs}")
    common.report("Checkout", command, f"{count} items of 16 KiB, three annotations each, "
                  f"median of {runs} runs:\n\n{table}", notes,
                  write=not (args.quick or args.no_docs))
    return {"items": count, "results": results}


if __name__ == "__main__":
    main()
