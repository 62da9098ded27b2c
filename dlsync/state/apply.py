"""How each write operation changes the database. Callers own the transaction."""

from __future__ import annotations

import json
import sqlite3

from dlsync.model import path_key
from dlsync.state.ops import (
    AddAnnotations,
    DeleteFile,
    FinishRun,
    MarkFile,
    QueueTaskItems,
    RemoveAnnotations,
    SetMeta,
    StartRun,
    TaskItemsAdded,
    UpsertFile,
    WriteOp,
)

_UPSERT = """
INSERT OR REPLACE INTO files (pair, key, path, size, mtime_ns, inode, sha256, item_id,
    annotation_size, annotation_mtime_ns, annotations_hash, status, attempts, last_error,
    next_attempt, updated)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_MARK = """
UPDATE files SET status = ?, attempts = ?, last_error = ?, next_attempt = ?, updated = ?
WHERE pair = ? AND key = ?
"""
_FINISH = """
UPDATE runs SET finished = ?, outcome = ?, counts = ?, bytes = ?, error = ?,
    duration = ? - started
WHERE id = ?
"""


def _upsert(conn: sqlite3.Connection, op: UpsertFile, now: float) -> None:
    r = op.record
    conn.execute(_UPSERT, (
        op.pair, path_key(r.path), r.path, r.size, r.mtime_ns, r.inode, r.sha256, r.item_id,
        r.annotation_size, r.annotation_mtime_ns, r.annotations_hash, r.status.value,
        r.attempts, r.last_error, op.next_attempt, now,
    ))


def _mark(conn: sqlite3.Connection, op: MarkFile, now: float) -> None:
    conn.execute(_MARK, (op.status.value, op.attempts, op.error, op.next_attempt, now,
                         op.pair, path_key(op.path)))


def _finish(conn: sqlite3.Connection, op: FinishRun) -> None:
    conn.execute(_FINISH, (op.finished, op.outcome.value, json.dumps(op.counts, sort_keys=True),
                           op.bytes, op.error, op.finished, op.run_id))


def _set_meta(conn: sqlite3.Connection, op: SetMeta) -> None:
    if op.value is None:
        conn.execute("DELETE FROM meta WHERE key = ?", (op.key,))
    else:
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                     (op.key, json.dumps(op.value)))


def apply(conn: sqlite3.Connection, op: WriteOp, now: float) -> None:
    """Apply ``op`` inside the caller's transaction; ``now`` stamps rows it touches."""
    match op:
        case UpsertFile():
            _upsert(conn, op, now)
        case MarkFile():
            _mark(conn, op, now)
        case DeleteFile():
            conn.execute("DELETE FROM files WHERE pair = ? AND key = ?",
                         (op.pair, path_key(op.path)))
        case AddAnnotations():
            conn.executemany(
                "INSERT OR REPLACE INTO annotations (pair, item_id, hash, annotation_id) "
                "VALUES (?, ?, ?, ?)",
                [(op.pair, op.item_id, digest, ann_id) for digest, ann_id in op.annotations])
        case RemoveAnnotations():
            conn.executemany(
                "DELETE FROM annotations WHERE pair = ? AND item_id = ? AND annotation_id = ?",
                [(op.pair, op.item_id, ann_id) for ann_id in op.annotation_ids])
        case StartRun():
            conn.execute("INSERT INTO runs (id, pair, kind, started) VALUES (?, ?, ?, ?)",
                         (op.run_id, op.pair, op.kind.value, op.started))
        case FinishRun():
            _finish(conn, op)
        case SetMeta():
            _set_meta(conn, op)
        case QueueTaskItems():
            conn.executemany(
                "INSERT OR IGNORE INTO task_items (pair, task, item_id) VALUES (?, ?, ?)",
                [(op.pair, op.task, item_id) for item_id in op.item_ids])
        case TaskItemsAdded():
            conn.executemany(
                "INSERT OR REPLACE INTO task_items (pair, task, item_id, added) "
                "VALUES (?, ?, ?, ?)", [(op.pair, op.task, i, op.when) for i in op.item_ids])
