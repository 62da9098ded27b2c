"""A disk that fills up while state is written: a clear fatal error, nothing recorded wrongly.

The state database lives on a real, tiny tmpfs. The first run fills it; it must stop with the
state exit code and a message naming the database, every file state records as synced must
really be on the platform with that content, and once there is space again the next run must
finish the job with every file on the platform exactly once.
"""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from dlsync.errors import EXIT_OK, EXIT_STATE

from .conftest import MirrorRun, Remote, fingerprint_of

FILES = 900


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 160 KiB tmpfs, unmounted after the test."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"a small tmpfs cannot be mounted here ({made.stderr.strip()}); the "
                    "injected-ENOSPC writer tests in tests/state cover the same path")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def state_path(small_disk: Path) -> Path:
    return small_disk / "state.db"


def _synced_in_state(path: Path) -> dict[str, tuple[str, str]]:
    uri = f"file:{path}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as conn:
        rows = conn.execute("SELECT path, item_id, sha256 FROM files WHERE status = 'synced'")
        return {row[0]: (row[1], row[2]) for row in rows}


async def test_full_disk_stops_the_run_and_the_next_run_completes(
        mirror: MirrorRun, remote: Remote, source: Path, state_path: Path,
        small_disk: Path) -> None:
    """ENOSPC at the state writer: exit 6 naming the database; synced rows are true; rerun ends."""
    for i in range(FILES):
        folder = source / f"d{i // 100:02d}"
        folder.mkdir(exist_ok=True)
        (folder / f"file-with-a-longish-name-{i:05d}.bin").write_bytes(f"{i}".encode())

    first = await mirror("--create")

    assert first.code == EXIT_STATE, first
    assert str(state_path) in first.err and "space" in first.err.lower(), first.err
    items = await remote.items()
    for path, (item_id, sha256) in _synced_in_state(state_path).items():
        item = items[f"/{path}"]
        assert item["id"] == item_id
        assert fingerprint_of(item)["sha256"] == sha256

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    second = await mirror()

    assert second.code == EXIT_OK, second
    items = await remote.items()
    assert len(items) == FILES
    assert len(_synced_in_state(state_path)) == FILES
