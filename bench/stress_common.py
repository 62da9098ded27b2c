"""What the stress benchmarks share: a gate subprocess that can be killed and restarted on the
same data directory and port, a tree of files with 1-3 boxes each, ``dlsync mirror``
subprocesses, what the state database says was synced, and the full check through the API.

The check is the one a user would make: every local file is exactly one item at its path with
its size and SHA-256 in ``metadata.user.dlsync``; the multiset of canonical annotation hashes of
each item equals the one of its local annotation file; no item lies outside the tree.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import common

from dlsync.constants import FINGERPRINT_KEY
from dlsync.local.annotations import canonical_annotation, load_annotation_file

PROJECT = "stress"
DATASET = "tree"
PAGE = 1000


# -- the gate ---------------------------------------------------------------------------------

@dataclass
class GateProcess:
    """``dlsync gate serve --data DIR`` in a subprocess; restartable on the same port."""

    data: Path
    faults: Sequence[str] = ()
    port: int = 0
    url: str = ""
    token: str = ""
    process: subprocess.Popen[str] | None = None
    drain: common.Drain | None = None
    starts: int = 0

    def start(self, timeout: float = 30.0) -> None:
        """Start serving (the first start picks a free port; later ones reuse it)."""
        command = common.dlsync_command("gate", "serve", "--data", str(self.data),
                                        "--port", str(self.port), *self.faults)
        deadline = time.monotonic() + timeout
        while True:
            found = self._try_start(command)
            if found is not None:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the gate did not start on port {self.port}")
            time.sleep(0.2)  # the port is still held by the killed process's socket
        self.url = found
        self.port = int(found.rsplit(":", 1)[1].split("/", 1)[0])
        self.token = self.token or common.mint_token(self.data)
        self.starts += 1

    def _try_start(self, command: list[str]) -> str | None:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True)
        assert process.stdout is not None
        for line in process.stdout:
            if found := common.URL.search(line):
                self.process, self.drain = process, common.Drain(process)
                return found.group(1)
        process.wait()
        process.stdout.close()
        return None

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, whatever was in flight is cut off."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM and wait."""
        self._end(signal.SIGTERM)

    def _end(self, signum: int) -> None:
        if self.process is None:
            return
        self.process.send_signal(signum)
        self.process.wait(timeout=30)
        if self.drain is not None:
            self.drain.join()
        self.process, self.drain = None, None

    async def set_faults(self, **settings: Any) -> None:
        """Change the running gate's faults (``POST /__gate__/faults``)."""
        async with aiohttp.ClientSession(headers=self.auth) as session, \
                session.post(f"{self.url}/__gate__/faults", json=settings) as reply:
            reply.raise_for_status()

    async def stats(self) -> dict[str, Any]:
        """The gate's request counts since it started (``GET /__gate__/stats``)."""
        async with aiohttp.ClientSession(headers=self.auth) as session, \
                session.get(f"{self.url}/__gate__/stats") as reply:
            reply.raise_for_status()
            return dict(await reply.json())

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


# -- the tree ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tree:
    """``count`` files under ``images``, each annotated by ``ann/<same path>.json``."""

    images: Path
    ann: Path
    count: int
    annotations: int


def write_tree(root: Path, *, count: int, seed: int, per_folder: int = 100) -> Tree:
    """Files of 1-8 KiB of seeded random bytes; 1-3 boxes each in the parallel ``ann`` tree."""
    rng = random.Random(seed)
    images, ann = root / "images", root / "ann"
    total = 0
    for n in range(count):
        folder = f"d{n // per_folder:04d}"
        if n % per_folder == 0:
            (images / folder).mkdir(parents=True, exist_ok=True)
            (ann / folder).mkdir(parents=True, exist_ok=True)
        (images / folder / f"f{n:06d}.jpg").write_bytes(rng.randbytes(rng.randint(1024, 8192)))
        boxes = rng.randint(1, 3)
        total += boxes
        document = common.box_document(n, boxes)
        (ann / folder / f"f{n:06d}.json").write_text(json.dumps(document))
    return Tree(images, ann, count, total)


# -- dlsync mirror ----------------------------------------------------------------------------

def mirror_command(tree: Tree, gate: GateProcess, state: Path,
                   extra: Sequence[str] = ()) -> list[str]:
    """``dlsync mirror`` of ``tree`` into stress/tree on ``gate``, warnings only, JSON summary."""
    return common.dlsync_command(
        "--log-level", "warning", "--log-json", "mirror", str(tree.images),
        "--remote", gate.url, "--annotations", str(tree.ann), "--project", PROJECT,
        "--dataset", DATASET, "--create", "--no-progress", "--json", "--state", str(state),
        *extra)


def mirror_env(gate: GateProcess, home: Path) -> dict[str, str]:
    """The child's environment: the gate's token and a private XDG home."""
    env = dict(os.environ)
    env.update({"DLSYNC_TOKEN": gate.token, "XDG_STATE_HOME": str(home / "state"),
                "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config")})
    return env


@dataclass(frozen=True)
class Finished:
    """A ``dlsync mirror`` child that ran to its end."""

    code: int
    summary: dict[str, Any]
    stderr: str
    wall_s: float


def run_to_end(command: Sequence[str], env: dict[str, str], timeout: float) -> Finished:
    """Run a mirror until it exits; its JSON summary (empty when it printed none)."""
    started = time.perf_counter()
    done = subprocess.run(list(command), env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    try:
        summary = json.loads(done.stdout) if done.stdout.strip() else {}
    except json.JSONDecodeError:
        summary = {"unparsed": done.stdout[-2000:]}
    return Finished(done.returncode, summary, done.stderr, time.perf_counter() - started)


# -- what state says was synced ---------------------------------------------------------------

@dataclass(frozen=True)
class Recorded:
    """Items and annotations the state database holds as acknowledged by the remote."""

    items: frozenset[str]
    annotations: frozenset[str]


def recorded_in_state(state: Path) -> Recorded:
    """Item ids of synced files and ids of annotations dlsync posted, read-only."""
    if not state.exists():
        return Recorded(frozenset(), frozenset())
    with closing(sqlite3.connect(f"file:{state}?mode=ro", uri=True)) as conn:
        items = {r[0] for r in conn.execute(
            "SELECT item_id FROM files WHERE status = 'synced' AND item_id IS NOT NULL")}
        notes = {r[0] for r in conn.execute("SELECT annotation_id FROM annotations")}
    return Recorded(frozenset(items), frozenset(notes))


# -- the check through the API ----------------------------------------------------------------

@dataclass
class Verdict:
    """What the check found; ``problems`` is empty when the dataset mirrors the tree."""

    items: int = 0
    annotations: int = 0
    problems: list[str] = field(default_factory=list)
    item_ids: set[str] = field(default_factory=set)
    annotation_ids: set[str] = field(default_factory=set)

    def line(self) -> str:
        state = "OK" if not self.problems else f"{len(self.problems)} problems"
        return f"{self.items} items, {self.annotations} annotations: {state}"


async def _query_all(session: aiohttp.ClientSession, gate: GateProcess, dataset_id: str,
                     resource: str) -> list[dict[str, Any]]:
    base: list[dict[str, Any]] = (
        [{"hidden": False}, {"type": "file"}] if resource == "items"
        else [{"type": {"$in": common.ANNOTATION_TYPES}}])
    found: list[dict[str, Any]] = []
    after = None
    while True:
        conds = [*base, *([{"id": {"$gt": after}}] if after else [])]
        body = {"filter": {"$and": conds}, "sort": {"id": "ascending"}, "page": 0,
                "pageSize": PAGE, "resource": resource}
        async with session.post(f"{gate.url}/datasets/{dataset_id}/query", json=body,
                                headers={"user_query": "true"}) as reply:
            reply.raise_for_status()
            page = await reply.json()
        found.extend(page["items"])
        if not page["hasNextPage"] or not page["items"]:
            return found
        after = page["items"][-1]["id"]


def _local_expectations(tree: Tree) -> tuple[dict[str, tuple[str, int]], dict[str, Counter[str]]]:
    files: dict[str, tuple[str, int]] = {}
    notes: dict[str, Counter[str]] = {}
    for path in sorted(tree.images.rglob("*.jpg")):
        rel = path.relative_to(tree.images).as_posix()
        data = path.read_bytes()
        files["/" + rel] = (hashlib.sha256(data).hexdigest(), len(data))
        parsed = load_annotation_file(tree.ann / Path(rel).with_suffix(".json"))
        notes["/" + rel] = Counter(a.hash for a in parsed.annotations)
    return files, notes


async def verify(gate: GateProcess, tree: Tree) -> Verdict:
    """Compare the dataset with the tree: items, fingerprints and annotation multisets."""
    files, expected_notes = _local_expectations(tree)
    async with aiohttp.ClientSession(headers=gate.auth) as session:
        dataset_id = await common.dataset_id(session, gate, PROJECT, DATASET)
        items = await _query_all(session, gate, dataset_id, "items")
        notes = await _query_all(session, gate, dataset_id, "annotations")
    verdict = Verdict(items=len(items), annotations=len(notes))
    verdict.item_ids = {str(i["id"]) for i in items}
    verdict.annotation_ids = {str(a["id"]) for a in notes}
    _check_items(items, files, verdict)
    _check_annotations(items, notes, expected_notes, verdict)
    return verdict


def _check_items(items: list[dict[str, Any]], files: dict[str, tuple[str, int]],
                 verdict: Verdict) -> None:
    counts = Counter(str(i["filename"]) for i in items)
    for name, n in counts.items():
        if n > 1:
            verdict.problems.append(f"{name}: {n} items")
        if name not in files:
            verdict.problems.append(f"{name}: item outside the tree")
    for name in files.keys() - counts.keys():
        verdict.problems.append(f"{name}: no item")
    for item in items:
        name = str(item["filename"])
        if name not in files:
            continue
        sha, size = files[name]
        stamp = (item.get("metadata", {}).get("user") or {}).get(FINGERPRINT_KEY) or {}
        served = item.get("metadata", {}).get("system", {}).get("size")
        if stamp.get("sha256") != sha or stamp.get("size") != size or served != size:
            verdict.problems.append(f"{name}: fingerprint {stamp} / size {served}, "
                                    f"expected sha256 {sha[:12]}... size {size}")


def _check_annotations(items: list[dict[str, Any]], notes: list[dict[str, Any]],
                       expected: dict[str, Counter[str]], verdict: Verdict) -> None:
    name_of = {str(i["id"]): str(i["filename"]) for i in items}
    found: dict[str, Counter[str]] = {}
    for note in notes:
        name = name_of.get(str(note.get("itemId")), f"<item {note.get('itemId')}>")
        found.setdefault(name, Counter())[canonical_annotation(note).hash] += 1
    for name in expected.keys() | found.keys():
        want, got = expected.get(name, Counter()), found.get(name, Counter())
        if want != got:
            verdict.problems.append(f"{name}: annotations {sorted(got.values())} by hash, "
                                    f"expected {sorted(want.values())} "
                                    f"({sum(got.values())} vs {sum(want.values())})")
