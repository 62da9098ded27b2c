"""The gate's one SQLite connection, one lock over it, and a write version per dataset.

Every read holds the lock; every write is one ``BEGIN IMMEDIATE`` transaction under it, so a
request either changes everything it asked for or nothing, and tests may call in from another
thread. A write names the versions it changes: a dataset's id when its items or annotations may
change, ``CATALOG`` when the list of datasets may; cached counts (``paging.py``) are checked
against them.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dlsync.gate.ids import IdGenerator
from dlsync.gate.schema import connect, highest_id

CATALOG = ""  # the version key of the datasets table itself


class Database:
    """A connection (a file with WAL, or ``:memory:``), its lock, ids and write versions."""

    def __init__(self, path: Path | None = None) -> None:
        self._conn = connect(path)
        self._lock = threading.RLock()
        try:
            self.ids = IdGenerator(highest_id(self._conn))
        except BaseException:
            self._conn.close()   # a database that cannot be read is not left to the collector
            raise
        self._versions: dict[str, int] = {}

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._conn.close()

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """The connection, held under the lock for several reads that must agree."""
        with self._lock:
            yield self._conn

    @contextlib.contextmanager
    def write(self, *changes: str) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed when the block ends, rolled back if it raises.

        A committed write bumps the version of each key in ``changes`` (dataset ids, ``CATALOG``).
        """
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            for key in changes:
                self._versions[key] = self._versions.get(key, 0) + 1

    def version(self, key: str) -> int:
        """How many committed writes have changed ``key`` (a dataset's rows, or ``CATALOG``)."""
        return self._versions.get(key, 0)

    def rows(self, sql: str, *params: Any) -> list[sqlite3.Row]:
        """Every row ``sql`` selects."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def one(self, sql: str, *params: Any) -> sqlite3.Row | None:
        """The first row ``sql`` selects, if any."""
        with self._lock:
            row: sqlite3.Row | None = self._conn.execute(sql, params).fetchone()
            return row
