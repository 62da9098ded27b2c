"""Typed reads of the state store, on a connection of their own.

Readers never block the writer: the database is in WAL mode, so a read sees the last committed
state while the writer goes on. Listings stream from a cursor in ``model.path_key`` order, the
order the merge-join needs, and never sit in memory whole.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from dlsync.model import FileStatus, Fingerprint, RelPath, RemoteItem, StateRecord, path_key
from dlsync.state.database import Connect, open_reader, raw_connect, translated
from dlsync.state.ops import DAEMON_KEY, RunKind, RunOutcome
from dlsync.state.store import ListingMark, PairSpec

FETCH = 500
"""Rows fetched from a cursor at a time while streaming."""


_PLAIN_FILE_COLUMNS = """
f.path, f.size, f.mtime_ns, f.inode, f.sha256, f.item_id, f.annotations_hash, f.status,
f.annotation_size, f.annotation_mtime_ns, f.attempts, f.last_error"""
_FILE_COLUMNS = _PLAIN_FILE_COLUMNS + """,
(SELECT json_group_array(json_array(a.hash, a.annotation_id)) FROM annotations a
 WHERE a.pair = f.pair AND a.item_id = f.item_id)
"""
_STATUS = {status.value: status for status in FileStatus}
_REMOTE_COLUMNS = "item_id, path, size, sha256, fingerprint_size, annotations_hash"
BY_CONTENT = (f"SELECT {_FILE_COLUMNS} FROM files f INDEXED BY files_by_fingerprint "
              "WHERE f.pair = ? AND f.sha256 = ? AND f.size = ? ORDER BY f.key")
"""Files with one content. Without INDEXED BY, SQLite walks all of the pair's files in key order
(it favours the primary key for ORDER BY): one lookup per new file made a first mirror quadratic."""
UNDER_ROOT = (f"SELECT {_FILE_COLUMNS} FROM files f WHERE f.pair = ? AND "
              "f.key >= ? AND f.key < ? ORDER BY f.key")
"""Files at or under one root: a root's key and its subtree's keys (the key, then ``NUL`` and
more) are exactly the keys in ``[key, key + 0x01)``, one range of the primary key. Written as
``key = ? OR (key > ? AND key < ?)`` it made SQLite scan all of the pair's rows for every root
of a service batch."""
_RUN_COLUMNS = "id, kind, started, finished, outcome, counts, bytes, duration, error"


@dataclass(frozen=True, slots=True)
class FileError:
    """The last error recorded for one path."""

    path: RelPath
    error: str
    attempts: int
    updated: float
    next_attempt: float | None


@dataclass(frozen=True, slots=True)
class DaemonInfo:
    """The service's last heartbeat. A stale heartbeat or a dead pid means it is not running."""

    pid: int
    heartbeat: float


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run as ``dlsync status`` reports it; ``finished`` is ``None`` while it goes on."""

    run_id: str
    kind: RunKind
    started: float
    finished: float | None
    outcome: RunOutcome | None
    counts: dict[str, int]
    bytes: int
    duration: float | None
    error: str | None


@dataclass(frozen=True, slots=True)
class TrackedKinds:
    """What state tracks of a pair: any files, any files with an annotation set."""

    files: bool = False
    annotation_files: bool = False


def _file(row: sqlite3.Row | tuple[Any, ...]) -> StateRecord:
    pairs = json.loads(row[12]) if len(row) > 12 and row[12] else []
    return StateRecord(
        path=RelPath(row[0]), size=row[1], mtime_ns=row[2], inode=row[3], sha256=row[4],
        item_id=row[5], annotations_hash=row[6], status=_STATUS[row[7]],
        annotation_size=row[8], annotation_mtime_ns=row[9], attempts=row[10],
        last_error=row[11], annotation_ids=tuple(sorted((h, i) for h, i in pairs)),
    )


def _remote(row: tuple[Any, ...]) -> RemoteItem:
    fingerprint = Fingerprint(row[3], row[4]) if row[3] is not None else None
    return RemoteItem(item_id=row[0], path=RelPath(row[1]), size=row[2],
                      fingerprint=fingerprint, annotations_hash=row[5])


def _run(row: tuple[Any, ...]) -> RunRecord:
    return RunRecord(run_id=row[0], kind=RunKind(row[1]), started=row[2], finished=row[3],
                     outcome=RunOutcome(row[4]) if row[4] else None, counts=json.loads(row[5]),
                     bytes=row[6], duration=row[7], error=row[8])


class StateReader:
    """Read-only queries over one state database."""

    def __init__(self, path: Path, *, connect: Connect = raw_connect) -> None:
        self.path = path
        self._conn = open_reader(path, connect)

    def close(self) -> None:
        """Close the reading connection."""
        self._conn.close()

    def __enter__(self) -> StateReader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with translated(self.path):
            return list(self._conn.execute(sql, params).fetchall())

    def _stream(self, sql: str, params: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
        with translated(self.path):
            cursor = self._conn.execute(sql, params)
            try:
                while rows := cursor.fetchmany(FETCH):
                    yield from rows
            finally:
                cursor.close()

    def pair_id(self, name: str) -> int | None:
        """The id of sync pair ``name``, or ``None`` when state has never seen it."""
        rows = self._all("SELECT id FROM pairs WHERE name = ?", (name,))
        return int(rows[0][0]) if rows else None

    def pairs(self) -> list[tuple[int, PairSpec]]:
        """Every sync pair state has seen, as ``(id, spec)``, ordered by name."""
        return [(int(row[0]), PairSpec(*row[1:])) for row in self._all(
            "SELECT id, name, source, remote_url, project, dataset, remote_dir FROM pairs "
            "ORDER BY name")]

    def files(self, pair: int, *, annotation_ids: bool = True) -> Iterator[StateRecord]:
        """Every tracked file of ``pair``, in ``path_key`` order, streamed; without
        ``annotation_ids`` the records leave them out (a push reads them per item, when
        needed: ``annotation_ids()``)."""
        columns = _FILE_COLUMNS if annotation_ids else _PLAIN_FILE_COLUMNS
        sql = f"SELECT {columns} FROM files f WHERE f.pair = ? ORDER BY f.key"
        return map(_file, self._stream(sql, (pair,)))

    def file(self, pair: int, path: str) -> StateRecord | None:
        """The record of one path, or ``None`` when it is not tracked."""
        rows = self._all(f"SELECT {_FILE_COLUMNS} FROM files f WHERE f.pair = ? AND f.key = ?",
                         (pair, path_key(path)))
        return _file(rows[0]) if rows else None

    def has_records(self, pair: int) -> bool:
        """Whether state holds any record of ``pair``'s files, deleted ones included."""
        return bool(self._all("SELECT EXISTS(SELECT 1 FROM files WHERE pair = ?)",
                              (pair,))[0][0])

    def remote_items(self, pair: int) -> Iterator[RemoteItem]:
        """The pair's cached remote listing, in ``path_key`` order, streamed."""
        sql = f"SELECT {_REMOTE_COLUMNS} FROM remote_items WHERE pair = ? ORDER BY key"
        return map(_remote, self._stream(sql, (pair,)))

    def listing_mark(self, pair: int) -> ListingMark | None:
        """What the pair's last remote listing saw, or ``None`` before the first one."""
        rows = self._all("SELECT watermark, total, full_at, basis FROM listings WHERE pair = ?",
                         (pair,))
        return ListingMark(rows[0][0], int(rows[0][1]), float(rows[0][2]), rows[0][3]) \
            if rows else None

    def in_conflict(self, pair: int) -> list[StateRecord]:
        """Tracked files of ``pair`` whose status is conflict (they carry their reason)."""
        return [_file(row) for row in self._all(
            f"SELECT {_FILE_COLUMNS} FROM files f WHERE f.pair = ? AND f.last_error IS NOT NULL "
            "AND f.status = 'conflict' ORDER BY f.key", (pair,))]

    def files_under(self, pair: int, roots: Iterable[str]) -> Iterator[StateRecord]:
        """The records at or under each of ``roots`` (a file's path, or a folder's: its whole
        subtree), root by root in the order given, each in ``path_key`` order (``UNDER_ROOT``)."""
        for root in roots:
            key = path_key(root)
            yield from map(_file, self._stream(UNDER_ROOT, (pair, key, key + b"\x01")))

    def tracked(self, pair: int) -> int:
        """How many files of ``pair`` state tracks (not counting deleted ones)."""
        counts = self.status_counts(pair)
        return sum(n for status, n in counts.items() if status is not FileStatus.DELETED)

    def tracked_kinds(self, pair: int) -> TrackedKinds:
        """Whether state tracks files, and annotation files, of ``pair``: each an ``EXISTS``
        that stops at the first row (the service asks before every batch)."""
        row = self._all(
            "SELECT EXISTS(SELECT 1 FROM files WHERE pair = ? AND status != 'deleted'), "
            "EXISTS(SELECT 1 FROM files WHERE pair = ? AND status != 'deleted' AND "
            "annotations_hash IS NOT NULL)", (pair, pair))[0]
        return TrackedKinds(files=bool(row[0]), annotation_files=bool(row[1]))

    def has_items(self, pair: int) -> bool:
        """Whether any file of ``pair`` has an item: an ``EXISTS`` that stops at the first row."""
        return bool(self._all("SELECT EXISTS(SELECT 1 FROM files WHERE pair = ? AND "
                              "item_id IS NOT NULL)", (pair,))[0][0])

    def owned_annotations(self, pair: int) -> int:
        """How many annotations dlsync created on the pair's items (and has not deleted)."""
        return int(self._all("SELECT count(*) FROM annotations WHERE pair = ?", (pair,))[0][0])

    def files_with_content(self, pair: int, sha256: str, size: int) -> list[StateRecord]:
        """Tracked files with this content: the candidates when pairing a move."""
        return [_file(row) for row in self._all(BY_CONTENT, (pair, sha256, size))]

    def status_counts(self, pair: int) -> dict[FileStatus, int]:
        """How many tracked files of ``pair`` are in each status (every status is a key)."""
        counts = dict.fromkeys(FileStatus, 0)
        for status, count in self._all(
                "SELECT status, count(*) FROM files WHERE pair = ? GROUP BY status", (pair,)):
            counts[FileStatus(status)] = int(count)
        return counts

    def last_errors(self, pair: int, limit: int = 10) -> list[FileError]:
        """The ``limit`` most recent per-file errors of ``pair``, newest first."""
        return [FileError(RelPath(row[0]), row[1], row[2], row[3], row[4]) for row in self._all(
            "SELECT path, last_error, attempts, updated, next_attempt FROM files "
            "WHERE pair = ? AND last_error IS NOT NULL ORDER BY updated DESC LIMIT ?",
            (pair, limit))]

    def last_run(self, pair: int, kind: RunKind) -> RunRecord | None:
        """The most recently started run of ``kind`` for ``pair``."""
        rows = self._all(f"SELECT {_RUN_COLUMNS} FROM runs WHERE pair = ? AND kind = ? "
                         "ORDER BY started DESC LIMIT 1", (pair, kind.value))
        return _run(rows[0]) if rows else None

    def recent_runs(self, pair: int, limit: int = 10) -> list[RunRecord]:
        """The ``limit`` most recently started runs of ``pair``, newest first."""
        return [_run(row) for row in self._all(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE pair = ? ORDER BY started DESC LIMIT ?",
            (pair, limit))]

    def annotation_ids(self, pair: int, item_id: str) -> tuple[tuple[str, str], ...]:
        """``(canonical hash, annotation id)`` of the annotations dlsync created on an item."""
        return tuple((row[0], row[1]) for row in self._all(
            "SELECT hash, annotation_id FROM annotations WHERE pair = ? AND item_id = ? "
            "ORDER BY hash, annotation_id", (pair, item_id)))

    def queued_task_items(self, pair: int, task: str) -> list[str]:
        """Items queued for the pair's task that the platform has not confirmed yet."""
        return [row[0] for row in self._all(
            "SELECT item_id FROM task_items WHERE pair = ? AND task = ? AND added IS NULL "
            "ORDER BY item_id", (pair, task))]

    def task_items(self, pair: int, task: str) -> int:
        """How many items the pair has added to ``task``."""
        return int(self._all("SELECT count(*) FROM task_items WHERE pair = ? AND task = ? "
                             "AND added IS NOT NULL", (pair, task))[0][0])

    def meta(self, key: str) -> Any:
        """A process-wide fact (decoded JSON), or ``None`` when it is not set."""
        rows = self._all("SELECT value FROM meta WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else None

    def daemon(self) -> DaemonInfo | None:
        """The service's last heartbeat, or ``None`` when no service recorded one."""
        value = self.meta(DAEMON_KEY)
        if not isinstance(value, dict):
            return None
        return DaemonInfo(pid=int(value["pid"]), heartbeat=float(value["heartbeat"]))
