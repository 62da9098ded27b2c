"""``dlsync status``: counts, errors, runs and the service's liveness, read from real state."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlsync import cli
from dlsync.config import parse_text
from dlsync.model import FileStatus, RelPath
from dlsync.state.ops import MarkFile, daemon_heartbeat, daemon_stopped
from dlsync.state.queries import StateReader
from dlsync.state.store import StateStore
from dlsync.status import collect, render_text, report_json
from tests.ops.conftest import MirrorOnce

FAKE_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJlbWFpbCI6ImFAYi5jIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


def _tree(root: Path) -> int:
    """Three files in two folders; returns their total size."""
    files = {"a.jpg": b"alpha", "sub/b.jpg": b"bravo-bravo", "sub/c.txt": b"c"}
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return sum(len(data) for data in files.values())


def _status_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Run ``dlsync status ARGS`` through the real entry point; (exit code, stdout)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        cli.main(["status", *args])
    code = exited.value.code
    return code if isinstance(code, int) else 1, capsys.readouterr().out


def _dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_status_without_a_database_reports_nothing_synced_and_creates_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With no state database, status exits 0, says nothing was synced, and creates no file."""
    state = tmp_path / "none" / "state.db"
    code, out = _status_cli(capsys, "--state", str(state))
    assert code == 0
    assert "nothing has been synced" in out
    assert not state.parent.exists()
    document = report_json(collect(state))
    assert document["state_exists"] is False
    assert document["pairs"] == []


async def test_counts_and_last_mirror_match_a_real_mirror(
        mirror_once: MirrorOnce, source: Path, state_path: Path) -> None:
    """After a mirror of three files, status shows three synced, the run, and its bytes."""
    total = _tree(source)
    assert await mirror_once() == 0
    report = collect(state_path)
    (pair,) = report.pairs
    assert pair.tracked == 3
    assert pair.counts[FileStatus.SYNCED] == 3
    assert pair.counts[FileStatus.FAILED] == pair.counts[FileStatus.PENDING] == 0
    assert pair.errors == ()
    assert pair.last_mirror is not None and pair.last_mirror.outcome is not None
    assert pair.last_mirror.outcome.value == "ok"
    assert pair.last_mirror.bytes == total
    assert pair.last_reconcile is None
    assert pair.throughput.runs == 1
    assert pair.throughput.bytes_per_s > 0 and pair.throughput.actions_per_s > 0


async def test_json_document_has_the_documented_shape(
        mirror_once: MirrorOnce, source: Path, state_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """``status --json`` prints one document with exactly the documented keys."""
    _tree(source)
    assert await mirror_once() == 0
    code, out = _status_cli(capsys, "--json", "--state", str(state_path))
    assert code == 0
    document = json.loads(out)
    assert set(document) == {"version", "state", "state_exists", "service", "pairs"}
    assert document["version"] == 1
    assert set(document["service"]) == {"state", "running", "pid", "heartbeat",
                                        "heartbeat_age_s"}
    (pair,) = document["pairs"]
    assert set(pair) == {"name", "source", "remote", "project", "dataset", "remote_dir",
                         "in_state", "files", "last_errors", "last_mirror", "last_reconcile",
                         "throughput", "paused", "task"}
    assert pair["paused"] is None
    assert pair["task"] is None
    assert pair["files"] == {"tracked": 3, "synced": 3, "pending": 0, "failed": 0,
                             "conflict": 0, "deleted": 0}
    assert set(pair["last_mirror"]) == {"started", "finished", "outcome", "duration_s",
                                        "bytes", "actions", "error"}
    assert pair["last_mirror"]["actions"] == 3
    assert set(pair["throughput"]) == {"runs", "bytes_per_s", "actions_per_s"}


async def test_failures_show_their_paths_and_never_a_token(
        mirror_once: MirrorOnce, source: Path, state_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A failed file is counted and listed with its path; a token in its error is masked."""
    _tree(source)
    assert await mirror_once() == 0
    with StateReader(state_path) as reader:
        pair_id = reader.pair_id(reader.pairs()[0][1].name)
    assert pair_id is not None
    with StateStore.open(state_path) as store:
        store.write([MarkFile(pair_id, RelPath("sub/b.jpg"), FileStatus.FAILED, attempts=3,
                              error=f"upload failed: HTTP 500 (Bearer {FAKE_JWT})",
                              next_attempt=time.time() + 60)])
    code, out = _status_cli(capsys, "--state", str(state_path))
    assert code == 0
    assert "sub/b.jpg: upload failed: HTTP 500" in out
    assert FAKE_JWT not in out
    (pair,) = collect(state_path).pairs
    assert pair.counts[FileStatus.FAILED] == 1 and pair.counts[FileStatus.SYNCED] == 2
    assert [error.path for error in pair.errors] == ["sub/b.jpg"]
    _, out = _status_cli(capsys, "--json", "--state", str(state_path))
    assert FAKE_JWT not in out
    assert json.loads(out)["pairs"][0]["last_errors"][0]["attempts"] == 3


async def test_an_unparsable_annotation_is_a_failure_with_its_path(
        mirror_once: MirrorOnce, source: Path, state_path: Path) -> None:
    """A file whose annotation JSON is broken shows up in status with that file's path."""
    _tree(source)
    (source / "a.jpg.json").write_text("{not json")
    await mirror_once()
    (pair,) = collect(state_path).pairs
    assert pair.counts[FileStatus.SYNCED] == 2
    assert [error.path for error in pair.errors] == ["a.jpg"]
    assert pair.last_mirror is not None and pair.last_mirror.outcome is not None
    assert pair.last_mirror.outcome.value == "partial"


def _heartbeat_state(state: Path, pid: int, beat: float) -> None:
    with StateStore.open(state) as store:
        store.write([daemon_heartbeat(pid, beat)])


def test_service_running_stale_dead_and_stopped(tmp_path: Path) -> None:
    """The heartbeat in meta reads as running, stale, dead or stopped as pid and age say."""
    state = tmp_path / "state.db"
    now = time.time()
    _heartbeat_state(state, os.getpid(), now - 2)
    assert collect(state, now=now).service.state == "running"
    _heartbeat_state(state, os.getpid(), now - 3600)
    assert collect(state, now=now).service.state == "stale"
    _heartbeat_state(state, _dead_pid(), now - 2)
    assert collect(state, now=now).service.state == "dead"
    with StateStore.open(state) as store:
        store.write([daemon_stopped()])
    service = collect(state, now=now).service
    assert service.state == "stopped" and service.pid is None


def test_service_line_in_text_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The text output names the running service's pid."""
    state = tmp_path / "state.db"
    _heartbeat_state(state, os.getpid(), time.time())
    code, out = _status_cli(capsys, "--state", str(state))
    assert code == 0
    assert f"service: running, pid {os.getpid()}" in out


def test_status_reads_while_the_writer_holds_a_transaction(tmp_path: Path) -> None:
    """An open write transaction does not block status; it sees the last committed state."""
    state = tmp_path / "state.db"
    _heartbeat_state(state, os.getpid(), time.time())
    with StateStore.open(state) as store:
        store.begin()
        store.apply([daemon_stopped()])
        assert collect(state).service.state == "running"
        store.commit()
    assert collect(state).service.state == "stopped"


def test_status_never_writes_the_database(tmp_path: Path) -> None:
    """Status leaves the database file's bytes unchanged."""
    state = tmp_path / "state.db"
    _heartbeat_state(state, os.getpid(), time.time())
    before = state.read_bytes()
    collect(state)
    assert state.read_bytes() == before


async def test_config_pairs_never_synced_are_listed(
        mirror_once: MirrorOnce, source: Path, state_path: Path, tmp_path: Path) -> None:
    """With a config, its pairs are shown, the ones state has never seen as never synced."""
    _tree(source)
    assert await mirror_once() == 0
    config_file = tmp_path / "dlsync.toml"
    config_file.write_text(f"""
[pairs.fresh]
source = "{source}"
project = "ops"
dataset = "other"
""")
    report = collect(state_path, parse_text(config_file.read_text(), config_file))
    (pair,) = report.pairs
    assert pair.spec.name == "fresh" and not pair.in_state and pair.tracked == 0
    out = io.StringIO()
    render_text(report, out)
    assert "fresh: " in out.getvalue() and "never synced" in out.getvalue()
