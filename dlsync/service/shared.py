"""One write connection per process: the state store every pair of the service shares.

A process should hold one write connection to a database, not one per pair. Opening a second
one used to open and close the database file while the first connection held it, which drops
every POSIX lock the process holds on that file; a process closing its own connection next (a
status check, a peek with ``sqlite3``) then took itself for the last one and deleted the WAL
file under the service: "disk I/O error" at the next read, and the last commits gone. So the
daemon opens the store once and every pair, the heartbeat and the cycles' state writers write
through it. A transaction is a turn: ``begin`` waits until no other transaction is open on the
connection, ``commit`` or ``rollback`` ends the turn. Turns are taken in worker threads (the
store's calls block), so a writer waiting for its turn never blocks the event loop.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from dlsync.state.store import StateStore


class SharedStore(StateStore):
    """A ``StateStore`` whose transactions take turns, so several writers can share it."""

    def __init__(self, path: Path, conn: sqlite3.Connection,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(path, conn, clock)
        self._turn = threading.Lock()
        self._holding = False

    def begin(self) -> None:
        """Wait for the connection to be free, then begin a write transaction."""
        self._take_turn()
        try:
            super().begin()
        except BaseException:
            self._end_turn()
            raise

    def commit(self) -> None:
        """Commit and end the turn; a failed commit is rolled back (nothing half-recorded)."""
        try:
            super().commit()
        except BaseException:
            self.rollback()
            raise
        self._end_turn()

    def rollback(self) -> None:
        """Roll back the open transaction, if any, and end the turn."""
        try:
            super().rollback()
        finally:
            self._end_turn()

    def _take_turn(self) -> None:
        self._turn.acquire()
        self._holding = True

    def _end_turn(self) -> None:
        if self._holding:
            self._holding = False
            self._turn.release()

