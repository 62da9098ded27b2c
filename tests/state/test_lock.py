"""The run lock: one run per sync pair, across processes, released when the holder dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlsync.errors import LockedError
from dlsync.state import PairLock, lock_path

HOLDER = """
import sys, time
from pathlib import Path
from dlsync.state import PairLock
lock = PairLock(Path(sys.argv[1]), "cameras")
lock.acquire()
print("held", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def holder(db_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock of pair "cameras" until it is killed."""
    db_path.parent.mkdir(parents=True)
    with subprocess.Popen([sys.executable, "-c", HOLDER, str(lock_path(db_path, "cameras"))],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        yield proc
        proc.kill()


def test_second_process_is_refused_with_holder(db_path: Path,
                                               holder: subprocess.Popen[str]) -> None:
    """A run while another process holds the pair gets LockedError naming the pair and pid."""
    with pytest.raises(LockedError) as caught:
        PairLock(lock_path(db_path, "cameras"), "cameras").acquire()
    message = str(caught.value)
    assert "sync pair cameras is locked by" in message and f"pid {holder.pid} since" in message


def test_lock_is_released_when_holder_dies(db_path: Path,
                                           holder: subprocess.Popen[str]) -> None:
    """Killing the holder with SIGKILL frees the lock for the next run."""
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with PairLock(lock_path(db_path, "cameras"), "cameras") as lock:
        assert lock.held
        assert lock.path.read_text().split()[0] == str(os.getpid())


def test_other_pairs_are_independent(db_path: Path, holder: subprocess.Popen[str]) -> None:
    """Holding one pair's lock does not block another pair of the same database."""
    with PairLock(lock_path(db_path, "lidar"), "lidar") as lock:
        assert lock.held


def test_same_process_second_lock_is_refused(tmp_path: Path) -> None:
    """Two lock objects on one pair conflict even within one process; release frees it."""
    path = lock_path(tmp_path / "state.db", "a/b c")
    assert path.name == "state.db.a_b_c.lock"
    with PairLock(path, "a/b c"):
        with pytest.raises(LockedError, match=f"pid {os.getpid()}"):
            PairLock(path, "a/b c").acquire()
    with PairLock(path, "a/b c") as again:
        assert again.held
    assert oct(path.stat().st_mode & 0o777) == "0o600"
