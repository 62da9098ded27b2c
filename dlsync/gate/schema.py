"""The gate's SQLite schema and connection set-up.

Hot item fields (what DQL filters, sorts and pages on) are indexed columns; everything else lives
in the JSON column ``doc`` and is reached with ``json_extract``. Ids grow with creation time, so
``(dataset_id, id)`` serves keyset paging without a sort.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dlsync.gate.dql import sql_regexp

SCHEMA = """
-- Projects: doc holds the full project JSON except id and name.
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, doc TEXT NOT NULL
) STRICT;
-- Datasets belong to one project; names are unique within it.
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY, project_id TEXT NOT NULL, name TEXT NOT NULL, created_at TEXT NOT NULL,
    doc TEXT NOT NULL, UNIQUE (project_id, name)
) STRICT;
-- Items (files and folders); blob is the sha256 of the content (NULL for folders).
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY, dataset_id TEXT NOT NULL, filename TEXT NOT NULL, dir TEXT NOT NULL,
    name TEXT NOT NULL, type TEXT NOT NULL, hidden INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, blob TEXT, size INTEGER NOT NULL DEFAULT 0,
    annotations_count INTEGER NOT NULL DEFAULT 0, doc TEXT NOT NULL,
    UNIQUE (dataset_id, filename)
) STRICT;
CREATE INDEX IF NOT EXISTS items_by_dataset ON items (dataset_id, id);
CREATE INDEX IF NOT EXISTS items_by_dir ON items (dataset_id, dir, id);
-- The default item filter (type = 'file', hidden = false) pages and counts from this index.
CREATE INDEX IF NOT EXISTS items_by_kind ON items (dataset_id, type, hidden, id);
-- Annotations hang off one item; doc holds the full annotation JSON.
CREATE TABLE IF NOT EXISTS annotations (
    id TEXT PRIMARY KEY, item_id TEXT NOT NULL, dataset_id TEXT NOT NULL, type TEXT NOT NULL,
    label TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, doc TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS annotations_by_item ON annotations (item_id, id);
CREATE INDEX IF NOT EXISTS annotations_by_dataset ON annotations (dataset_id, id);
-- Recipes and ontologies (labels as a tree of roots); doc holds the full JSON except the id.
CREATE TABLE IF NOT EXISTS recipes (id TEXT PRIMARY KEY, doc TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS ontologies (id TEXT PRIMARY KEY, doc TEXT NOT NULL) STRICT;
-- Annotation and QA tasks of one dataset; an item's membership lives in its metadata.system.refs.
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY, project_id TEXT NOT NULL, dataset_id TEXT NOT NULL, name TEXT NOT NULL,
    created_at TEXT NOT NULL, doc TEXT NOT NULL
) STRICT;
-- One assignment per task assignee.
CREATE TABLE IF NOT EXISTS assignments (
    id TEXT PRIMARY KEY, task_id TEXT NOT NULL, annotator TEXT NOT NULL, doc TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS assignments_by_task ON assignments (task_id, id);
"""


def connect(path: Path | None) -> sqlite3.Connection:
    """A connection to the database at ``path`` (``None``: in memory) with the schema in place."""
    conn = sqlite3.connect(
        ":memory:" if path is None else str(path), isolation_level=None, check_same_thread=False
    )
    try:
        conn.row_factory = sqlite3.Row
        if path is not None:
            conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("PRAGMA cache_size=-65536")
        conn.create_function("regexp", 2, sql_regexp, deterministic=True)
        conn.executescript(SCHEMA)
    except BaseException:
        conn.close()
        raise
    return conn


def highest_id(conn: sqlite3.Connection) -> str | None:
    """The largest id in any table, so new ids keep increasing after a restart."""
    row = conn.execute(
        "SELECT max(m) FROM (SELECT max(id) AS m FROM projects UNION ALL SELECT max(id) FROM "
        "datasets UNION ALL SELECT max(id) FROM items UNION ALL SELECT max(id) FROM annotations "
        "UNION ALL SELECT max(id) FROM recipes UNION ALL SELECT max(id) FROM ontologies "
        "UNION ALL SELECT max(id) FROM tasks UNION ALL SELECT max(id) FROM assignments)"
    ).fetchone()
    return row[0] if row and row[0] else None
