"""The run lock: at most one run per sync pair at a time, across processes.

The lock is an ``flock`` on a file beside the state database, named after the pair, held for the
whole run. The kernel releases it when the process exits, however it exits, so a crashed run never
leaves a stale lock behind. The holder writes its pid and start time into the file so that a
second run can say who holds it.
"""

from __future__ import annotations

import fcntl
import os
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from dlsync.errors import LockedError, StateError


def _holder(fd: int) -> str:
    """``pid N since T`` from the lock file, or a neutral phrase if it is not written yet."""
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").split()
    except OSError:
        text = []
    if len(text) >= 2:
        return f"pid {text[0]} since {text[1]}"
    return "another process (pid not yet recorded)"


class PairLock:
    """An exclusive, non-blocking lock on one sync pair; use as a context manager."""

    def __init__(self, path: Path, pair: str) -> None:
        self.path = path
        self.pair = pair
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock at once, or raise ``LockedError`` naming the holder."""
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StateError(f"cannot open the lock file {self.path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise LockedError(f"sync pair {self.pair} is locked by {holder}; "
                              "this run stops without changing anything") from None
        self._fd = fd
        self._record()

    def _record(self) -> None:
        assert self._fd is not None
        since = datetime.now(UTC).isoformat(timespec="seconds")
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()} {since}\n".encode(), 0)

    def release(self) -> None:
        """Give the lock up (the file stays: removing it would race with the next taker)."""
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def __enter__(self) -> PairLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
