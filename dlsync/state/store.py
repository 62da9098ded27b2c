"""The write side of the state store: one connection, explicit transactions, a synchronous API.

``StateStore`` is what the ``StateWriter`` task drives from worker threads, and what tests and
one-off tools call directly. Only one ``StateStore`` should write a database at a time; the run
lock (``dlsync.state.lock``) makes sure of that per sync pair.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from types import TracebackType

from dlsync.errors import ProtocolError, StateError
from dlsync.logs import get_logger
from dlsync.model import RemoteChange, RemoteItem, path_key
from dlsync.state.apply import apply
from dlsync.state.database import Connect, open_writer, raw_connect, translated
from dlsync.state.ops import WriteOp

REMOTE_CHUNK = 1000
"""Rows per ``executemany`` when the remote cache is replaced."""

_log = get_logger(__name__)

_INSERT_REMOTE = """
INSERT INTO remote_items (pair, key, path, item_id, size, sha256, fingerprint_size,
    annotations_hash)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
"""
_RESET_PAIR = ("files", "annotations", "remote_items", "listings")
_SET_LISTING = """
INSERT INTO listings (pair, watermark, total, full_at, basis) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (pair) DO UPDATE SET watermark = excluded.watermark, total = excluded.total,
    full_at = excluded.full_at, basis = excluded.basis
"""


@dataclass(frozen=True, slots=True)
class ListingMark:
    """What a pair's last remote listing saw: the next one starts from it (docs/operations.md,
    "Incremental remote listing")."""

    watermark: str | None    # the latest ``updatedAt`` in the folder (platform clock)
    total: int               # items the folder's listing query matched
    full_at: float           # unix time (local clock) of the last full listing
    basis: str               # the filter the cached rows went through (the backup folder)


@dataclass(frozen=True, slots=True)
class PairSpec:
    """What names a sync pair in state: a local root and the remote folder it mirrors into."""

    name: str
    source: str
    remote_url: str
    project: str
    dataset: str
    remote_dir: str


def _remote_row(pair: int, item: RemoteItem) -> tuple[object, ...]:
    fp = item.fingerprint
    return (pair, path_key(item.path), item.path, item.item_id, item.size,
            fp.sha256 if fp else None, fp.size if fp else None, item.annotations_hash)


class StateStore:
    """The single writing connection to one state database."""

    def __init__(self, path: Path, conn: sqlite3.Connection,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._conn = conn
        self._clock = clock

    @classmethod
    def open(cls, path: Path, *, connect: Connect = raw_connect,
             clock: Callable[[], float] = time.time) -> StateStore:
        """Open (creating and migrating as needed) the database at ``path`` for writing."""
        return cls(path, open_writer(path, connect), clock)

    def close(self) -> None:
        """Close the connection; uncommitted work is rolled back."""
        self._conn.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # Transactions -------------------------------------------------------------------------

    def begin(self) -> None:
        """Begin a write transaction."""
        with translated(self.path):
            self._conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        """Commit the open transaction."""
        with translated(self.path):
            self._conn.execute("COMMIT")

    def rollback(self) -> None:
        """Roll back the open transaction, if SQLite has not already done so."""
        with translated(self.path):
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything written in the block commits together, or (on any error) not at all."""
        self.begin()
        try:
            yield
        except BaseException:
            self.rollback()
            raise
        self.commit()

    # Writes -------------------------------------------------------------------------------

    def apply(self, ops: Iterable[WriteOp]) -> int:
        """Apply ``ops`` inside the open transaction; return how many there were."""
        now = self._clock()
        count = 0
        with translated(self.path):
            for op in ops:
                apply(self._conn, op, now)
                count += 1
        return count

    def write(self, ops: Iterable[WriteOp]) -> int:
        """Apply ``ops`` in one transaction; return how many there were."""
        with self.transaction():
            return self.apply(ops)

    def register_pair(self, spec: PairSpec) -> int:
        """The id of sync pair ``spec.name``, recording it on first use.

        When the pair now points at another remote, project, dataset or folder, its files,
        annotations and remote cache describe the old target and are forgotten: the next run
        rebuilds them from the new target's fingerprints.
        """
        with self.transaction(), translated(self.path):
            row = self._conn.execute(
                "SELECT id, remote_url, project, dataset, remote_dir FROM pairs WHERE name = ?",
                (spec.name,)).fetchone()
            if row is None:
                cur = self._conn.execute(
                    "INSERT INTO pairs (name, source, remote_url, project, dataset, remote_dir) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (spec.name, spec.source, spec.remote_url, spec.project, spec.dataset,
                     spec.remote_dir))
                return int(cur.lastrowid or 0)
            pair = int(row[0])
            if tuple(row[1:]) != (spec.remote_url, spec.project, spec.dataset, spec.remote_dir):
                self._forget_target(pair, spec)
            self._conn.execute("UPDATE pairs SET source = ?, remote_url = ?, project = ?, "
                               "dataset = ?, remote_dir = ? WHERE id = ?",
                               (spec.source, spec.remote_url, spec.project, spec.dataset,
                                spec.remote_dir, pair))
            return pair

    def _forget_target(self, pair: int, spec: PairSpec) -> None:
        for table in _RESET_PAIR:
            self._conn.execute(f"DELETE FROM {table} WHERE pair = ?", (pair,))
        _log.warning("pair target changed; state will be rebuilt from the new target",
                     pair=spec.name, remote=spec.remote_url, project=spec.project,
                     dataset=spec.dataset, remote_dir=spec.remote_dir)

    # Remote cache -------------------------------------------------------------------------

    def clear_remote_items(self, pair: int) -> None:
        """Delete the pair's cached listing (inside the open transaction)."""
        with translated(self.path):
            self._conn.execute("DELETE FROM remote_items WHERE pair = ?", (pair,))

    def insert_remote_items(self, pair: int, items: Iterable[RemoteItem]) -> int:
        """Add listing rows (inside the open transaction); return how many.

        A path listed twice (Dataloop forbids it) raises ``ProtocolError``: a fault of the
        listing, not of the database.
        """
        rows = [_remote_row(pair, item) for item in items]
        try:
            with translated(self.path):
                self._conn.executemany(_INSERT_REMOTE, rows)
        except StateError as exc:
            if isinstance(exc.__cause__, sqlite3.IntegrityError):
                raise ProtocolError(f"the remote listing names one path twice, among "
                                    f"{[row[2] for row in rows][:5]}...; the listing was not "
                                    "recorded and the previous one is kept") from exc
            raise
        return len(rows)

    def merge_remote_items(self, pair: int, changes: Iterable[RemoteChange]) -> int:
        """Bring changed items' rows in (inside the open transaction): each item's old row goes,
        its new one replaces whatever the cache held at that path. Returns how many of the
        items the cache did not hold before (new to the listing)."""
        new = 0
        with translated(self.path):
            for change in changes:
                gone = self._conn.execute(
                    "DELETE FROM remote_items WHERE pair = ? AND item_id = ?",
                    (pair, change.item_id)).rowcount
                new += gone == 0
                if change.entry is not None:
                    self._conn.execute(_INSERT_REMOTE.replace("INSERT", "INSERT OR REPLACE", 1),
                                       _remote_row(pair, change.entry))
        return new

    def set_listing(self, pair: int, mark: ListingMark | None) -> None:
        """Record (inside the open transaction) what the pair's listing saw; ``None`` forgets
        it, so the next listing is a full one."""
        with translated(self.path):
            if mark is None:
                self._conn.execute("DELETE FROM listings WHERE pair = ?", (pair,))
                return
            self._conn.execute(_SET_LISTING, (pair, mark.watermark, mark.total, mark.full_at,
                                              mark.basis))

    def replace_remote_items(self, pair: int, items: Iterable[RemoteItem],
                             mark: ListingMark | None = None) -> int:
        """Replace the pair's cached listing with ``items`` in one transaction; return the count.

        ``items`` is consumed in chunks, so the listing never sits in memory whole. ``mark`` is
        recorded with it (``None``: the next listing is a full one).
        """
        count = 0
        with self.transaction():
            self.clear_remote_items(pair)
            iterator = iter(items)
            while chunk := list(islice(iterator, REMOTE_CHUNK)):
                count += self.insert_remote_items(pair, chunk)
            self.set_listing(pair, mark)
        return count
