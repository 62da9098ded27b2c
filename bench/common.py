"""What the ``bench/mirror_*.py`` benchmarks share: a gate subprocess, sample trees, timed
``dlsync mirror`` runs with their peak RSS, keyset listings for checks, and docs/benchmarks.md.

Each benchmark measures its baseline in the same run and on the same gate, so a ratio compares
like with like even when the machine is busy; the load average is written beside the figures.
"""

from __future__ import annotations

import compileall
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
URL = re.compile(r"(https?://[^\s'\"]+/api/v1)")
JWT = re.compile(r"(eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)")
PAGE = 1000
ANNOTATION_TYPES = ["box", "class", "point", "polyline", "segment", "ellipse"]


# -- the gate ---------------------------------------------------------------------------------

class Drain:
    """Reads the rest of a child's output on a daemon thread until it ends, and drops it. A
    child whose pipe nobody reads blocks once the pipe's buffer (64 KiB) is full: a gate started
    for its URL line, and never read again, stopped answering mid-run once it had logged that
    much. The thread closes the stream at its end."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._thread = threading.Thread(target=self._read, args=(process.stdout,),
                                        name=f"drain-{process.pid}", daemon=True)
        self._thread.start()

    @staticmethod
    def _read(stream: IO[str] | None) -> None:
        if stream is not None:
            with stream:
                for _ in stream:
                    pass

    def join(self, timeout: float = 10.0) -> None:
        """Wait for the output to end (call once the child has exited)."""
        self._thread.join(timeout)


@dataclass
class Gate:
    """A ``dlsync gate serve --port 0`` subprocess: its API URL and a token it accepts."""

    process: subprocess.Popen[str]
    url: str
    token: str
    drain: Drain

    def stop(self) -> None:
        """Terminate the gate and wait for it."""
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.drain.join()


def dlsync_command(*args: str) -> list[str]:
    """The command line that runs ``dlsync ARGS`` with this interpreter (its bytecode
    compiled first)."""
    compile_bytecode()
    return [sys.executable, "-m", "dlsync", *args]


_COMPILED: list[bool] = []


def compile_bytecode() -> None:
    """Compile dlsync's modules to bytecode once, as installing a wheel does. In a checkout
    with ``PYTHONDONTWRITEBYTECODE`` set nothing caches them, so every timed ``dlsync``
    process would compile its 190 modules from source (0.1 s of CPU) before doing any work;
    the baselines run inside the benchmark's own process and pay no imports at all."""
    if not _COMPILED:
        compileall.compile_dir(ROOT / "dlsync", quiet=1)
        _COMPILED.append(True)


def mint_token(data: Path) -> str:
    """A token the gate serving ``data`` accepts (``dlsync gate token``)."""
    out = subprocess.run(dlsync_command("gate", "token", "--data", str(data)), check=True,
                         capture_output=True, text=True).stdout
    found = JWT.search(out)
    if found is None:
        raise RuntimeError(f"dlsync gate token printed no token: {out!r}")
    return found.group(1)


@contextmanager
def running_gate(data: Path | None, *, faults: Sequence[str] = ()) -> Iterator[Gate]:
    """A gate persisting to ``data`` (or in memory when ``None``) for the block; ``faults`` are
    extra ``dlsync gate serve`` flags such as ``--latency-ms 100``."""
    where = ["--data", str(data)] if data is not None else ["--memory"]
    process = subprocess.Popen(dlsync_command("gate", "serve", "--port", "0", *where, *faults),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    url = token = None
    while url is None or (data is None and token is None):
        line = process.stdout.readline()
        if not line:
            process.wait()
            raise RuntimeError("the gate exited before printing its URL")
        url = url or (m.group(1) if (m := URL.search(line)) else None)
        token = token or (m.group(1) if (m := JWT.search(line)) else None)
    gate = Gate(process, url, token or mint_token(data), Drain(process))  # type: ignore[arg-type]
    try:
        yield gate
    finally:
        gate.stop()


def scratch() -> tempfile.TemporaryDirectory[str]:
    """A temporary folder for one benchmark; a file still held open at the end is left behind
    rather than losing the figures."""
    return tempfile.TemporaryDirectory(prefix="dlsync-bench-", ignore_cleanup_errors=True)


# -- trees ------------------------------------------------------------------------------------

def box_document(index: int, boxes: int) -> dict[str, Any]:
    """A dtlpy-format annotation file with ``boxes`` distinct boxes."""
    annotations = []
    for b in range(boxes):
        x, y = float(index % 500 + b), float(b * 7)
        annotations.append({"type": "box", "label": f"class{b}",
                            "coordinates": [{"x": x, "y": y, "z": 0},
                                            {"x": x + 10 + b, "y": y + 12, "z": 0}],
                            "metadata": {"system": {}}})
    return {"annotations": annotations, "metadata": {"system": {}}}


@dataclass(frozen=True)
class Tree:
    """Files under ``images``; with ``boxes``, one annotation file each in the mirrored ``ann``."""

    images: Path
    ann: Path | None
    count: int
    boxes: int


def write_tree(root: Path, *, count: int, folders: int, size: int, boxes: int = 0) -> Tree:
    """``count`` files of ``size`` random bytes spread over ``folders`` folders ``dNNNN``.

    With ``boxes``, ``ann/dNNNN/fNNNNNN.json`` holds that many boxes for ``dNNNN/fNNNNNN.jpg``
    (the layout both ``--annotations DIR`` and dtlpy's ``local_annotations_path`` read).
    """
    images, ann = root / "images", root / "ann"
    per = -(-count // folders)
    for n in range(count):
        folder = f"d{n // per:04d}"
        name = f"f{n:06d}"
        target = images / folder
        if n % per == 0:
            target.mkdir(parents=True, exist_ok=True)
            if boxes:
                (ann / folder).mkdir(parents=True, exist_ok=True)
        (target / f"{name}.jpg").write_bytes(os.urandom(size))
        if boxes:
            (ann / folder / f"{name}.json").write_text(json.dumps(box_document(n, boxes)))
    return Tree(images, ann if boxes else None, count, boxes)


# -- timed runs -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Run:
    """One finished child process: exit code, wall and CPU seconds, peak RSS, what it printed."""

    code: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    stdout: str
    stderr: str


def timed_run(command: Sequence[str], env: dict[str, str] | None = None) -> Run:
    """Run ``command``; its wall time, CPU (``wait4``) and its own peak RSS.

    The peak is the child's ``VmHWM`` (its own address space, after exec), read every 20 ms
    while it runs. ``wait4``'s ``ru_maxrss`` is not used for it: Linux carries the address
    space the child was forked from into that figure, so a benchmark process that holds much
    memory itself (a seeded store, a listing's names) would show up as the child's peak.
    """
    import threading

    started = time.perf_counter()
    peak = [0.0]
    with subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env=env) as proc:
        done = threading.Event()
        watch = threading.Thread(target=_watch_hwm, args=(proc.pid, peak, done))
        watch.start()
        try:
            out, err = _drain(proc)
        finally:
            done.set()
            watch.join()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    return Run(proc.returncode, wall, usage.ru_utime + usage.ru_stime,
               peak[0] or usage.ru_maxrss / 1024, out, err)


def _watch_hwm(pid: int, peak: list[float], done: Any) -> None:
    """Keep ``peak[0]`` at the largest ``VmHWM`` (MB) of process ``pid`` seen until ``done``.

    The first readings, before the child has exec'd, are the parent's: they are skipped until
    the command line no longer is this process's own."""
    own = Path(f"/proc/{os.getpid()}/cmdline").read_bytes()
    while not done.wait(0.02):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes() == own:
                continue
            for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
                if line.startswith("VmHWM:"):
                    peak[0] = max(peak[0], int(line.split()[1]) / 1024)
        except (OSError, ValueError):
            continue


def _drain(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Read both pipes to the end without reaping the child (``wait4`` does that)."""
    import threading

    chunks: dict[str, str] = {}

    def read(name: str, stream: Any) -> None:
        chunks[name] = stream.read()

    threads = [threading.Thread(target=read, args=(n, s))
               for n, s in (("out", proc.stdout), ("err", proc.stderr))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return chunks["out"], chunks["err"]


def mirror_command(tree: Tree, gate: Gate, *, project: str, dataset: str, state: Path,
                   extra: Sequence[str] = ()) -> list[str]:
    """``dlsync mirror`` of ``tree`` into ``project/dataset`` on ``gate``, JSON summary."""
    annotations = ["--annotations", str(tree.ann)] if tree.ann else ["--annotations", "none"]
    return dlsync_command("mirror", str(tree.images),
                          "--remote", gate.url, *annotations, "--project", project,
                          "--dataset", dataset, "--create", "--no-progress", "--json",
                          "--state", str(state), *extra)


def mirror_env(gate: Gate, home: Path) -> dict[str, str]:
    """The environment of a ``dlsync mirror`` child: the gate's token, a private XDG home."""
    env = dict(os.environ)
    env.update({"DLSYNC_TOKEN": gate.token, "XDG_STATE_HOME": str(home / "state"),
                "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config")})
    return env


def run_mirror(command: Sequence[str], env: dict[str, str]) -> tuple[Run, dict[str, Any]]:
    """Run a ``dlsync mirror --json`` command; fail loudly unless it exits 0."""
    run = timed_run(command, env)
    if run.code != 0:
        raise RuntimeError(f"dlsync mirror exited {run.code}: {run.stderr[-2000:]}"
                           f"{run.stdout[-2000:]}")
    return run, json.loads(run.stdout)


# -- checks through the API -------------------------------------------------------------------

@dataclass
class Listing:
    """What a keyset listing of one resource of a dataset found."""

    count: int = 0
    distinct: set[str] = field(default_factory=set)
    pages: int = 0


async def list_resource(session: aiohttp.ClientSession, gate: Gate, dataset_id: str,
                        resource: str, key: str) -> Listing:
    """Every entity of ``resource`` in a dataset, keyset-paged by id (1,000 a page).

    ``key`` names the field whose distinct values are collected (``filename`` of items,
    ``id`` of annotations), so duplicates show as ``count > len(distinct)``.
    """
    base = ([{"hidden": False}, {"type": "file"}] if resource == "items"
            else [{"type": {"$in": ANNOTATION_TYPES}}])
    listing, after = Listing(), None
    while True:
        conds = [*base, *([{"id": {"$gt": after}}] if after else [])]
        body = {"filter": {"$and": conds}, "sort": {"id": "ascending"}, "page": 0,
                "pageSize": PAGE, "resource": resource}
        async with session.post(f"{gate.url}/datasets/{dataset_id}/query", json=body,
                                headers={"authorization": f"Bearer {gate.token}",
                                         "user_query": "true"}) as resp:
            resp.raise_for_status()
            page = await resp.json()
        listing.pages += 1
        for one in page["items"]:
            listing.count += 1
            listing.distinct.add(str(one.get(key)))
        if not page["hasNextPage"] or not page["items"]:
            return listing
        after = page["items"][-1]["id"]


async def make_datasets(gate: Gate, project: str, names: Sequence[str]) -> None:
    """Create ``project`` and the empty datasets ``names`` in it, so every side starts alike."""
    auth = {"authorization": f"Bearer {gate.token}"}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{gate.url}/projects", data={"name": project},
                                headers=auth) as resp:
            resp.raise_for_status()
            project_id = (await resp.json())["id"]
        for name in names:
            async with session.post(f"{gate.url}/datasets", headers=auth,
                                    json={"name": name, "projects": [project_id]}) as resp:
                resp.raise_for_status()


async def dataset_id(session: aiohttp.ClientSession, gate: Gate, project: str,
                     dataset: str) -> str:
    """The id of ``project/dataset`` on ``gate``."""
    auth = {"authorization": f"Bearer {gate.token}"}
    async with session.get(f"{gate.url}/projects/{project}/name", headers=auth) as resp:
        resp.raise_for_status()
        found = await resp.json()
    project_id = (found[0] if isinstance(found, list) else found)["id"]
    body = {"filter": {"$and": [{"name": dataset}]}, "page": 0, "pageSize": PAGE,
            "resource": "datasets", "context": {"projects": [project_id]}}
    async with session.post(f"{gate.url}/datasets/query", json=body,
                            headers={**auth, "user_query": "true"}) as resp:
        resp.raise_for_status()
        return str((await resp.json())["items"][0]["id"])


async def verify_dataset(gate: Gate, project: str, dataset: str, *, items: int,
                         annotations: int) -> str:
    """Check through the API that a dataset holds exactly ``items`` files and ``annotations``.

    Returns a one-line verdict; raises ``AssertionError`` naming what is wrong.
    """
    async with aiohttp.ClientSession() as session:
        ds = await dataset_id(session, gate, project, dataset)
        found = await list_resource(session, gate, ds, "items", "filename")
        notes = await list_resource(session, gate, ds, "annotations", "id")
    problems = []
    if found.count != items or len(found.distinct) != items:
        problems.append(f"{found.count} items ({len(found.distinct)} distinct), "
                        f"expected {items}")
    if notes.count != annotations or len(notes.distinct) != annotations:
        problems.append(f"{notes.count} annotations ({len(notes.distinct)} distinct), "
                        f"expected {annotations}")
    if problems:
        raise AssertionError(f"dataset {project}/{dataset}: " + "; ".join(problems))
    return f"{project}/{dataset}: {found.count} items, {notes.count} annotations, no duplicates"


# -- quiet-machine runs -----------------------------------------------------------------------

def wait_quiet(max_load: float, *, timeout_s: float = 300.0) -> float:
    """Wait until the 1-minute load average is under ``max_load`` (at most ``timeout_s``);
    return the load average the run starts at, which the report prints beside its figure."""
    deadline = time.monotonic() + timeout_s
    while os.getloadavg()[0] >= max_load and time.monotonic() < deadline:
        time.sleep(2.0)
    return os.getloadavg()[0]


def cpu_seconds() -> float:
    """User plus system CPU seconds of this process so far (all its threads)."""
    usage = os.times()
    return usage.user + usage.system


def cpu_seconds_of(pid: int) -> float:
    """User plus system CPU seconds process ``pid`` has used so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sched_seconds_of(pid: int) -> tuple[float, float]:
    """Seconds process ``pid``'s threads have run, and seconds they have waited, runnable, for
    a core (``/proc/PID/task/*/schedstat``; zeros where there is none). What a process did not
    spend running or waiting for a core over a span, it spent idle: blocked, with nothing to do."""
    ran = waited = 0
    for task in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            fields = task.read_text().split()
        except OSError:
            continue
        ran, waited = ran + int(fields[0]), waited + int(fields[1])
    return ran / 1e9, waited / 1e9


def steal_seconds() -> float:
    """CPU seconds the hypervisor has taken from this machine's cores so far (``steal`` in
    /proc/stat, summed over every core; 0 where there is none or no /proc). Load average does
    not see it: a virtual machine with nothing running can still be slowed by its neighbours."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = stat.readline().split()
    except OSError:
        return 0.0
    if len(fields) < 9 or fields[0] != "cpu":
        return 0.0
    return int(fields[8]) / os.sysconf("SC_CLK_TCK")


def host_pace_ms(iterations: int = 2_000_000) -> float:
    """Milliseconds one fixed pure-Python loop takes now: the host's speed of the moment, taken
    before each run so that a report can show a drifting host (the same loop took 0.75-1.27 s
    per 10 million iterations within one session on the 2-core machine of docs/benchmarks.md)."""
    started = time.perf_counter()
    total = 0
    for i in range(iterations):
        total += i & 7
    return (time.perf_counter() - started) * 1000


def steal_share(steal_s: float, wall_s: float) -> float:
    """The share of every core's time the hypervisor took during a run of ``wall_s`` seconds
    in which it took ``steal_s`` (``steal_seconds`` after minus before)."""
    return steal_s / (wall_s * (os.cpu_count() or 1)) if wall_s > 0 else 0.0


def median(values: Sequence[float]) -> float:
    """The median of ``values`` (the middle one of three)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


# -- reporting --------------------------------------------------------------------------------

def machine() -> str:
    """Machine facts for the docs: cores, Python, OS, load average at the time of the run."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}, load average {load} at the end")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (also readable on a terminal)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_section(title: str, body: str) -> None:
    """Replace (or append) the ``## title`` section of docs/benchmarks.md, leaving the others."""
    text = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Benchmarks\n"
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(text, encoding="utf-8")


def report(title: str, command: str, rows_text: str, notes: Sequence[str], *,
           write: bool) -> None:
    """Print the table; with ``write``, put it with command, date and machine into the docs."""
    print(rows_text)
    for note in notes:
        print(note)
    if not write:
        return
    body = [f"Command: `{command}`", "",
            f"Measured {date.today().isoformat()} on {machine()}.", "", rows_text, "",
            *[f"- {note}" for note in notes]]
    write_section(title, "\n".join(body))
