"""Opening the state database, and translating sqlite3 failures into dlsync errors.

This is the boundary for the state store: no ``sqlite3`` exception leaves the ``dlsync.state``
package untranslated. A database that cannot be read becomes a ``StateError`` naming the file and
the remedy; a full disk becomes a ``DiskFullError`` naming the file.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from dlsync.errors import DiskFullError, StateError
from dlsync.state.schema import migrate

Connect = Callable[[Path], sqlite3.Connection]
"""The seam that opens a raw connection; tests pass one that limits the database's size."""

_CORRUPT_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
_REMEDY = ("move it aside and run again: the next run rebuilds state from the remote "
           "fingerprints without uploading anything twice")


def raw_connect(path: Path) -> sqlite3.Connection:
    """A plain connection in autocommit mode; transactions are begun explicitly."""
    return sqlite3.connect(path, isolation_level=None, check_same_thread=False)


def translate(exc: BaseException, path: Path) -> BaseException:
    """The dlsync error for a failure ``exc`` of the database at ``path`` (or ``exc`` itself)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_FULL or getattr(exc, "errno", None) == errno.ENOSPC:
        return DiskFullError(f"no space left to write the state database {path}; "
                             "free space on its device and run again (nothing was lost)")
    if code in _CORRUPT_CODES:
        return StateError(f"the state database {path} is corrupt ({exc}); {_REMEDY}")
    if isinstance(exc, sqlite3.Error | OSError):
        return StateError(f"cannot use the state database {path}: {exc}")
    return exc


@contextmanager
def translated(path: Path) -> Iterator[None]:
    """Run the block with sqlite3 and OS errors translated for the database at ``path``."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        raise translate(exc, path) from exc


def _create_private(path: Path) -> None:
    """Create the directory (0700) and an empty database file (0600) if they do not exist.

    SQLite gives the ``-wal`` and ``-shm`` files the mode of the database file, so they are
    private too. An existing file is left alone: opening and closing it would drop every POSIX
    lock this process holds on it (another connection's), and a process that closes its own
    connection next would then take itself for the last one and delete the WAL file under ours.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.exists():
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)


def _configure(conn: sqlite3.Connection, *, writer: bool) -> None:
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 5000")
    if writer:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    else:
        conn.execute("PRAGMA query_only = ON")


def open_writer(path: Path, connect: Connect = raw_connect) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the database at ``path`` for writing."""
    with translated(path):
        _create_private(path)
        conn = connect(path)
        try:
            _configure(conn, writer=True)
            migrate(conn, path)
        except BaseException:
            conn.close()
            raise
    return conn


def open_reader(path: Path, connect: Connect = raw_connect) -> sqlite3.Connection:
    """Open an existing, migrated database at ``path`` read-only; it never blocks the writer."""
    with translated(path):
        if not path.exists():
            raise StateError(f"the state database {path} does not exist; run a sync first")
        conn = connect(path)
        try:
            _configure(conn, writer=False)
        except BaseException:
            conn.close()
            raise
    return conn
