"""Exit codes and bad input: each failure is contained and reported with the right code."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from dlsync import constants
from dlsync.errors import NotFoundError
from dlsync.gate.server import RunningGate
from dlsync.push import executor as transfer
from dlsync.push.job import Job
from dlsync.state.location import lock_path
from dlsync.state.lock import PairLock
from tests.mirror.conftest import DATASET, PROJECT, MirrorRun, Remote


async def test_bad_flag_is_exit_2(mirror: MirrorRun) -> None:
    """A flag click rejects is a usage error: exit 2."""
    assert (await mirror("--max-delete", "-3"))[0] == 2


async def test_missing_dataset_without_create_is_exit_2_and_creates_nothing(
        mirror: MirrorRun, remote: Remote, source: Path) -> None:
    """Without --create a missing dataset is a clear error naming --create; nothing is made."""
    (source / "a.txt").write_bytes(b"a")
    code, out, err = await mirror()
    assert code == 2, out + err
    assert "--create" in err
    with pytest.raises(NotFoundError):
        await remote.client.get_project(PROJECT)


async def test_rejected_token_is_exit_3(mirror: MirrorRun, source: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A token the remote rejects stops the run with exit 3."""
    monkeypatch.setenv("DLSYNC_TOKEN", "not-a-token")
    code, out, err = await mirror("--create")
    assert code == 3, out + err


async def test_held_lock_is_exit_5(mirror: MirrorRun, source: Path, state_path: Path) -> None:
    """A second run while the pair's lock is held exits 5 and changes nothing."""
    state_path.parent.mkdir(parents=True, exist_ok=True)
    with PairLock(lock_path(state_path, f"{PROJECT}/{DATASET}"), f"{PROJECT}/{DATASET}"):
        code, out, err = await mirror("--create")
    assert code == 5, out + err
    assert "locked" in err


async def test_special_files_and_unfollowed_symlinks_are_left_out_by_policy(
        mirror: MirrorRun, remote: Remote, source: Path) -> None:
    """A FIFO, a socket, a broken symlink and a symlink loop are left out by design: every run
    exits 0 and lists them as excluded (``~`` in the dry run), never as failures, so a
    scheduler's alert does not fire forever for files that will never sync."""
    (source / "ok.txt").write_bytes(b"ok")
    os.mkfifo(source / "pipe")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(source / "sock"))
        (source / "dangling").symlink_to(source / "nowhere")
        (source / "loop").mkdir()
        (source / "loop" / "back").symlink_to(source / "loop")
        for _ in range(2):
            code, out, err = await mirror("--create")
            assert code == 0, out + err
            assert "4 left out by policy" in out
        dry = await mirror("--dry-run")
    assert dry.code == 0
    assert {line.split()[1] for line in dry.out.splitlines() if line.startswith("~ ")} == {
        "dangling", "loop/back", "pipe", "sock"}
    assert sorted(await remote.items()) == ["/ok.txt"]


LARGE = b"x" * (constants.CARRIED_FILE_BYTES + 1)
"""Content over the size the planner hands to the upload: such a file is read again to send."""


async def test_file_changed_during_upload_is_not_recorded_and_retried(
        mirror: MirrorRun, remote: Remote, gate: RunningGate, source: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A file modified while uploading is not taken as synced; the next run sends the new bytes.

    The seam: dlsync's own pre-upload check (``Executor._check_unchanged``) appends to the file
    right after it passed, as a writer racing the upload would.
    """
    target = source / "busy.bin"
    target.write_bytes(LARGE + b"first")
    original = transfer.Executor._check_unchanged
    calls = {"n": 0}

    def racing(self: transfer.Executor, local: object) -> None:
        original(self, local)  # type: ignore[arg-type]
        calls["n"] += 1
        if calls["n"] == 1:
            with target.open("ab") as out:
                out.write(b" and more")

    with monkeypatch.context() as patch:
        patch.setattr(transfer.Executor, "_check_unchanged", racing)
        code, out, err = await mirror("--create")
    assert code == 0, out + err
    assert "skipped" in out
    code, out, err = await mirror()
    assert code == 0, out + err
    item = (await remote.items())["/busy.bin"]
    assert await remote.content(item["id"]) == LARGE + b"first and more"


async def test_small_file_changed_after_planning_is_sent_as_hashed_then_again(
        mirror: MirrorRun, remote: Remote, source: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A small file travels from the planner to the upload as the bytes it hashed: a change
    after planning sends those bytes (matching the fingerprint and the stat state records),
    and the next run sees the new stat and sends the new bytes.

    The seam: the executor's upload step appends to the file before it starts.
    """
    target = source / "small.txt"
    target.write_bytes(b"first")
    original = transfer.Executor._upload

    async def racing(self: transfer.Executor, job: Job, mode: str) -> None:
        assert job.content == b"first"
        with target.open("ab") as out:
            out.write(b" and more")
        await original(self, job, mode)

    with monkeypatch.context() as patch:
        patch.setattr(transfer.Executor, "_upload", racing)
        code, out, err = await mirror("--create")
    assert code == 0, out + err
    item = (await remote.items())["/small.txt"]
    assert await remote.content(item["id"]) == b"first"
    code, out, err = await mirror()
    assert code == 0, out + err
    assert "1 overwritten" in out, out


async def test_file_vanishing_before_upload_is_skipped_quietly(
        mirror: MirrorRun, remote: Remote, source: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A file removed between scan and upload is skipped without an error: exit 0. (A file
    the planner carried to the upload is sent as read: its bytes need no file.)"""
    (source / "stays.txt").write_bytes(LARGE)
    (source / "goes.txt").write_bytes(LARGE)
    original = transfer.Executor._check_unchanged

    def vanishing(self: transfer.Executor, local: transfer.LocalEntry) -> None:
        if local.path == "goes.txt":
            (source / "goes.txt").unlink(missing_ok=True)
        original(self, local)

    with monkeypatch.context() as patch:
        patch.setattr(transfer.Executor, "_check_unchanged", vanishing)
        code, out, err = await mirror("--create")
    assert code == 0, out + err
    assert sorted(await remote.items()) == ["/stays.txt"]
