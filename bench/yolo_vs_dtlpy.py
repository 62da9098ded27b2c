"""First upload of a YOLO dataset: ``dlsync mirror --annotation-format yolo`` against dtlpy's
``Converter.upload_local_dataset(from_format='yolo', ...)``.

One gate subprocess (``dlsync gate serve --port 0 --data <tmp>``) serves both, each into its
own empty dataset, in the same run. The dataset is ``count`` small real images (PNG, 64x48, so
both clients can read their size) in 20 folders, a YOLO ``.txt`` with ``BOXES`` boxes for each
in a parallel labels folder, and a ``classes.txt``:

(a) ``dlsync mirror <images> --annotation-format yolo --annotations <labels> ... --create`` as
    a subprocess (fresh state);
(b) dtlpy: ``dl.Converter().upload_local_dataset(from_format='yolo', dataset=...,
    local_items_path=<images>, local_annotations_path=<labels>,
    local_labels_path=<classes.txt>)``.

Each dataset is then checked through the API: every image once, every box once.

    .venv/bin/python bench/yolo_vs_dtlpy.py [--quick] [--files 10000] [--no-docs]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import os
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import common
from mirror_vs_dtlpy import dtlpy_on
from PIL import Image

BOXES = 3
FOLDERS = 20
WORKERS = 32
CLASSES = ("cat", "dog", "bird")


def write_yolo(root: Path, count: int) -> tuple[Path, Path]:
    """``count`` PNGs under ``root/images`` and their YOLO labels under ``root/labels``."""
    images, labels = root / "images", root / "labels"
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 140, 30)).save(buffer, format="PNG")
    png = buffer.getvalue()
    per = -(-count // FOLDERS)
    for n in range(count):
        folder = f"d{n // per:04d}"
        if n % per == 0:
            (images / folder).mkdir(parents=True)
            (labels / folder).mkdir(parents=True)
        (images / folder / f"f{n:06d}.png").write_bytes(png)
        lines = [f"{(n + b) % len(CLASSES)} {0.2 + 0.25 * b:.6f} 0.500000 0.100000 0.200000"
                 for b in range(BOXES)]
        (labels / folder / f"f{n:06d}.txt").write_text("\n".join(lines) + "\n")
    (labels / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    return images, labels


def run_dlsync(gate: common.Gate, paths: tuple[Path, Path], names: tuple[str, str],
               tmp: Path) -> tuple[float, float, float]:
    """(a) Seconds of one ``dlsync mirror`` subprocess, of its run after start-up, and its CPU
    seconds."""
    images, labels = paths
    project, dataset = names
    command = common.dlsync_command(
        "mirror", str(images), "--remote", gate.url, "--annotation-format", "yolo",
        "--annotations", str(labels), "--project", project, "--dataset", dataset, "--create",
        "--no-progress", "--json", "--state", str(tmp / "state.db"), "--workers", str(WORKERS))
    run, summary = common.run_mirror(command, common.mirror_env(gate, tmp / "home"))
    return run.wall_s, float(summary["duration_s"]), run.cpu_s


def run_dtlpy(gate: common.Gate, paths: tuple[Path, Path], names: tuple[str, str],
              home: Path) -> float:
    """(b) Seconds of dtlpy's converter uploading the images and their YOLO labels."""
    images, labels = paths
    project, dataset = names
    dl: Any = dtlpy_on(gate, home)
    logging.getLogger("dtlpy").setLevel(logging.ERROR)
    target = dl.projects.get(project_name=project).datasets.get(dataset_name=dataset)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        errors = dl.Converter().upload_local_dataset(
            from_format="yolo", dataset=target, local_items_path=str(images),
            local_annotations_path=str(labels),
            local_labels_path=str(labels / "classes.txt"))
    seconds = time.perf_counter() - started
    if errors:
        raise AssertionError(f"dtlpy's converter reported errors: {errors}")
    return seconds


def main() -> None:
    """Build the dataset, run both uploads, verify, print and record the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 images (seconds)")
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args()
    count = 200 if args.quick else args.files
    with common.scratch() as tmp_name:
        tmp = Path(tmp_name)
        paths = write_yolo(tmp / "yolo", count)
        project = f"bench-{uuid.uuid4().hex[:8]}"
        with common.running_gate(tmp / "gate") as gate:
            asyncio.run(common.make_datasets(gate, project, ["Y1", "Y2"]))
            load = os.getloadavg()[0]
            dlsync, in_run, dlsync_cpu = run_dlsync(gate, paths, (project, "Y1"), tmp)
            cpu_before = time.process_time()
            dtlpy = run_dtlpy(gate, paths, (project, "Y2"), tmp / "dtlpy-home")
            dtlpy_cpu = time.process_time() - cpu_before
            checks = [asyncio.run(common.verify_dataset(
                gate, project, name, items=count, annotations=count * BOXES))
                for name in ("Y1", "Y2")]
    seconds = {"dlsync": dlsync, "dtlpy": dtlpy}
    rate = {side: count / s for side, s in seconds.items()}
    cpu = {"dlsync": dlsync_cpu, "dtlpy": dtlpy_cpu}
    rows = [(side, f"{seconds[side]:.1f}", f"{rate[side]:.0f}",
             f"{cpu[side] / count * 1000:.2f}") for side in seconds]
    notes = [
        f"{count} PNG images (64x48) in {FOLDERS} folders, a YOLO .txt with {BOXES} boxes for "
        f"each ({count * BOXES} annotations) and a classes.txt; one gate with --data, each "
        "client into an empty dataset.",
        f"dlsync/dtlpy = {rate['dlsync'] / rate['dtlpy']:.2f}x. Load average before the runs: "
        f"{load:.2f} ({'quiet' if load < 1 else 'shared: the ratio says little'}). CPU is the "
        "client's own (dlsync's process; dtlpy's, measured in this process), not the gate's.",
        f"dlsync's seconds include process start-up; its run itself took {in_run:.1f} s.",
        f"dlsync ran as `dlsync mirror ... --annotation-format yolo --workers {WORKERS}`; dtlpy "
        "as `Converter().upload_local_dataset(from_format='yolo', ...)` with its defaults.",
        *[f"verified: {check}" for check in checks],
    ]
    common.report("YOLO dataset: first mirror vs dtlpy's converter",
                  "python bench/yolo_vs_dtlpy.py", common.table(["client", "seconds",
                                                                 "items/s", "CPU ms/item"],
                                                                rows),
                  notes, write=not args.no_docs and not args.quick)


if __name__ == "__main__":
    main()
