"""First upload of a tree with annotations: ``dlsync mirror`` against dtlpy and a bare loop.

One gate subprocess (``dlsync gate serve --port 0 --data <tmp>``) serves all three, each into its
own empty dataset, in the same run:

(a) ``dlsync mirror <tree> --annotations <ann> ... --create`` as a subprocess (fresh state);
(b) dtlpy 1.126.5: ``dataset.items.upload(local_path='<tree>/*', local_annotations_path=<ann>)``;
(c) a bare aiohttp loop, one session and 32 requests in flight, one upload and one annotation
    post per file and no bookkeeping: the most any client gets out of this gate.

Each dataset is then checked through the API: every file once, every box once.

    .venv/bin/python bench/mirror_vs_dtlpy.py [--quick] [--files 2000] [--no-docs]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import aiohttp
import common

SIZE = 16 * 1024
BOXES = 5
FOLDERS = 20
IN_FLIGHT = 32
WORKERS = 32


def run_dlsync(gate: common.Gate, tree: common.Tree, project: str, dataset: str,
               tmp: Path) -> tuple[float, float]:
    """(a) Seconds of one ``dlsync mirror`` subprocess, and of its run after start-up."""
    command = common.mirror_command(tree, gate, project=project, dataset=dataset,
                                    state=tmp / "state.db",
                                    extra=["--workers", str(WORKERS)])
    run, summary = common.run_mirror(command, common.mirror_env(gate, tmp / "home"))
    done = summary["outcomes"].get("upload.done", 0)
    if done != tree.count:
        raise AssertionError(f"dlsync uploaded {done} of {tree.count}: {summary}")
    return run.wall_s, float(summary["duration_s"])


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
              home: Path) -> float:
    """(b) Seconds of one dtlpy ``items.upload`` of the tree and its annotation folder."""
    dl = dtlpy_on(gate, home)
    target = dl.projects.get(project_name=project).datasets.get(dataset_name=dataset)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # no trailing slash on local_path: with one, dtlpy silently skips every annotation
        target.items.upload(local_path=f"{tree.images}/*", local_annotations_path=str(tree.ann),
                            raise_on_error=True)
    return time.perf_counter() - started


async def run_bare(gate: common.Gate, tree: common.Tree, project: str, dataset: str) -> float:
    """(c) Seconds of a bare aiohttp loop: upload each file, post its boxes, nothing else."""
    assert tree.ann is not None
    auth = {"authorization": f"Bearer {gate.token}"}
    files = sorted(tree.images.rglob("*.jpg"))
    limit = asyncio.Semaphore(IN_FLIGHT)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
        ds = await common.dataset_id(session, gate, project, dataset)

        async def one(path: Path) -> None:
            rel = path.relative_to(tree.images).as_posix()
            async with limit:
                form = aiohttp.FormData()
                form.add_field("type", "file")
                form.add_field("path", "/" + rel)
                form.add_field("file", path.read_bytes(), filename=path.name,
                               content_type="image/jpeg")
                async with session.post(f"{gate.url}/datasets/{ds}/items",
                                        params={"mode": "skip"}, data=form,
                                        headers=auth) as resp:
                    resp.raise_for_status()
                    item = await resp.json()
                boxes = json.loads((tree.ann / rel).with_suffix(".json").read_text())
                async with session.post(f"{gate.url}/items/{item['id']}/annotations",
                                        json=boxes["annotations"], headers=auth) as resp:
                    resp.raise_for_status()
                    await resp.json()

        started = time.perf_counter()
        await asyncio.gather(*(one(p) for p in files))
        return time.perf_counter() - started


def main() -> None:
    """Build the tree, run the three uploads, verify, print and record the figures."""
    global WORKERS  # one run uses one worker count throughout
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 files (seconds)")
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument("--workers", type=int, default=WORKERS,
                        help=f"dlsync's --workers (default {WORKERS}; 16 is dlsync's own default)")
    parser.add_argument("--skip-dtlpy", action="store_true",
                        help="dlsync against the bare loop only (comparing two dlsync builds)")
    args = parser.parse_args()
    WORKERS = args.workers
    count = 200 if args.quick else args.files
    if args.skip_dtlpy:
        compare_with_bare(count)
        return
    with common.scratch() as tmp_name:
        tmp = Path(tmp_name)
        tree = common.write_tree(tmp / "tree", count=count, folders=FOLDERS, size=SIZE,
                                 boxes=BOXES)
        project = f"bench-{uuid.uuid4().hex[:8]}"
        names = {"dlsync": "D1", "dtlpy": "D2", "bare": "D3"}
        with common.running_gate(tmp / "gate") as gate:
            asyncio.run(common.make_datasets(gate, project, list(names.values())))
            bare = asyncio.run(run_bare(gate, tree, project, names["bare"]))
            dlsync, in_run = run_dlsync(gate, tree, project, names["dlsync"], tmp)
            seconds = {
                "bare": bare,
                "dlsync": dlsync,
                "dtlpy": run_dtlpy(gate, tree, project, names["dtlpy"], tmp / "dtlpy-home"),
            }
            checks = [asyncio.run(common.verify_dataset(
                gate, project, names[side], items=count, annotations=count * BOXES))
                for side in ("dlsync", "dtlpy", "bare")]
    rate = {side: count / s for side, s in seconds.items()}
    rows = [(side, f"{seconds[side]:.1f}", f"{rate[side]:.0f}")
            for side in ("dlsync", "dtlpy", "bare")]
    text = common.table(["client", "seconds", "items/s"], rows)
    notes = [
        f"{count} files of 16 KiB in {FOLDERS} folders, {BOXES} boxes each "
        f"({count * BOXES} annotations), one gate with --data, each into an empty dataset.",
        f"dlsync/dtlpy = {rate['dlsync'] / rate['dtlpy']:.2f}x, "
        f"dlsync/bare = {rate['dlsync'] / rate['bare']:.0%}.",
        f"dlsync's seconds include process start-up; its run itself (the summary's duration) "
        f"took {in_run:.1f} s: {count / in_run:.0f} items/s, "
        f"{count / in_run / rate['bare']:.0%} of the bare loop.",
        f"dlsync ran as `dlsync mirror ... --workers {WORKERS}` with the default pacer "
        "(a 1000 requests/s ceiling, so the gate sets the pace, as for dtlpy and the bare loop).",
        "The bare loop bounds every client on this gate: it is "
        f"{rate['bare'] / rate['dtlpy']:.2f}x dtlpy here, so no client's ratio to dtlpy can be "
        "higher.",
        "The bare loop: one aiohttp session, 32 requests in flight, an upload and one "
        "annotation post per file, no state, no hashing, no checks.",
        *[f"verified: {check}" for check in checks],
    ]
    common.report("First mirror vs dtlpy vs a bare loop", "python bench/mirror_vs_dtlpy.py",
                  text, notes, write=not args.no_docs and not args.quick)


def compare_with_bare(count: int) -> None:
    """dlsync and the bare loop only, with CPU per item: for comparing dlsync builds."""
    with common.scratch() as tmp_name:
        tmp = Path(tmp_name)
        tree = common.write_tree(tmp / "tree", count=count, folders=FOLDERS, size=SIZE,
                                 boxes=BOXES)
        project = f"bench-{uuid.uuid4().hex[:8]}"
        with common.running_gate(tmp / "gate") as gate:
            asyncio.run(common.make_datasets(gate, project, ["D1", "D3"]))
            bare = asyncio.run(run_bare(gate, tree, project, "D3"))
            command = common.mirror_command(tree, gate, project=project, dataset="D1",
                                            state=tmp / "state.db",
                                            extra=["--workers", str(WORKERS)])
            run, summary = common.run_mirror(command, common.mirror_env(gate, tmp / "home"))
            dlsync, in_run = run.wall_s, float(summary["duration_s"])
            check = asyncio.run(common.verify_dataset(gate, project, "D1", items=count,
                                                      annotations=count * BOXES))
    print(json.dumps({"files": count, "bare_s": round(bare, 2), "dlsync_s": round(dlsync, 2),
                      "dlsync_in_run_s": round(in_run, 2),
                      "dlsync_over_bare": round(bare / dlsync, 3),
                      "dlsync_cpu_ms_per_item": round(run.cpu_s / count * 1000, 3),
                      "load": round(os.getloadavg()[0], 2), "verified": str(check)}))


if __name__ == "__main__":
    main()
