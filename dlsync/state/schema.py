"""The state schema as numbered migrations, applied in order and tracked in ``PRAGMA user_version``.

A migration is never edited once released: a change to the schema is a new entry at the end of
``MIGRATIONS``. Every table is STRICT and carries a comment saying what a row is; SQLite keeps
the comment in ``sqlite_schema``, so ``.schema`` in the sqlite3 shell shows it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dlsync.errors import StateError

# Literal SQL, not built from enums: a released migration must never change. A new FileStatus
# value needs a new migration that widens the CHECK below.
_V1 = """
CREATE TABLE pairs (  -- one row per sync pair; every other table hangs off its id
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,     -- the config's pair name, or one made from flags
    source      TEXT NOT NULL,            -- absolute path of the local sync root
    remote_url  TEXT NOT NULL,            -- API base URL, or "local" for the embedded gate
    project     TEXT NOT NULL,
    dataset     TEXT NOT NULL,
    remote_dir  TEXT NOT NULL             -- "/" or "/dir": the folder the root maps to
) STRICT;

CREATE TABLE files (  -- what dlsync last knew of each local file of a pair
    pair                INTEGER NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
    key                 BLOB NOT NULL,    -- model.path_key(path): the merge-join order
    path                TEXT NOT NULL,    -- model.RelPath
    size                INTEGER NOT NULL,
    mtime_ns            INTEGER NOT NULL,
    inode               INTEGER NOT NULL,
    sha256              TEXT,             -- hex; NULL until the file was read
    item_id             TEXT,             -- the remote item; NULL until uploaded or adopted
    annotation_size     INTEGER NOT NULL DEFAULT 0,
    annotation_mtime_ns INTEGER NOT NULL DEFAULT 0,
    annotations_hash    TEXT,             -- hash of the canonical annotation set last synced
    status              TEXT NOT NULL
                        CHECK (status IN ('pending', 'synced', 'failed', 'conflict', 'deleted')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    last_error          TEXT,             -- why the last attempt failed; NULL after a success
    next_attempt        REAL,             -- unix time before which a failed file is not retried
    updated             REAL NOT NULL,    -- unix time of the last write to this row
    PRIMARY KEY (pair, key)
) STRICT, WITHOUT ROWID;
CREATE INDEX files_by_fingerprint ON files (pair, sha256, size);
CREATE INDEX files_with_errors ON files (pair, updated) WHERE last_error IS NOT NULL;

CREATE TABLE annotations (  -- annotations dlsync created on an item: the only ones it deletes
    pair           INTEGER NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
    item_id        TEXT NOT NULL,         -- keyed by item, so a move keeps its annotations
    hash           TEXT NOT NULL,         -- canonical hash of the local annotation
    annotation_id  TEXT NOT NULL,         -- the remote annotation's id
    PRIMARY KEY (pair, item_id, annotation_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE remote_items (  -- the pair's last remote listing, replaced wholesale by each run
    pair              INTEGER NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
    key               BLOB NOT NULL,      -- model.path_key(path), relative to remote_dir
    path              TEXT NOT NULL,
    item_id           TEXT NOT NULL,
    size              INTEGER NOT NULL,
    sha256            TEXT,               -- from the dlsync fingerprint in user metadata
    fingerprint_size  INTEGER,            -- size recorded in that fingerprint
    annotations_hash  TEXT,
    PRIMARY KEY (pair, key)
) STRICT, WITHOUT ROWID;

CREATE TABLE runs (  -- one row per mirror, reconcile or pull run, for `dlsync status`
    id        TEXT PRIMARY KEY,           -- chosen by the caller (state.ops.new_run_id)
    pair      INTEGER NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
    kind      TEXT NOT NULL CHECK (kind IN ('mirror', 'reconcile', 'pull')),
    started   REAL NOT NULL,              -- unix time
    finished  REAL,                       -- NULL while the run is going (or it died)
    outcome   TEXT,                       -- NULL while running; see state.ops.RunOutcome
    counts    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(counts)),  -- actions by kind
    bytes     INTEGER NOT NULL DEFAULT 0, -- bytes uploaded
    duration  REAL,                       -- seconds
    error     TEXT                        -- the error that ended the run, if any
) STRICT;
CREATE INDEX runs_by_kind ON runs (pair, kind, started);

CREATE TABLE meta (  -- process-wide facts, such as the daemon's pid and heartbeat
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) STRICT;
"""

_V2 = """
CREATE TABLE task_items (  -- items a pair adds to its task: queued before the call, then marked
    pair     INTEGER NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
    task     TEXT NOT NULL,              -- the task's name (it may not exist on the platform yet)
    item_id  TEXT NOT NULL,
    added    REAL,                       -- unix time the platform took it; NULL while queued
    PRIMARY KEY (pair, task, item_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX task_items_queued ON task_items (pair, task) WHERE added IS NULL;
"""

_V3 = """
CREATE TABLE listings (  -- per pair: what its last remote listing saw, for the next incremental one
    pair       INTEGER PRIMARY KEY REFERENCES pairs(id) ON DELETE CASCADE,
    watermark  TEXT,                     -- latest updatedAt in the folder when it was listed
    total      INTEGER NOT NULL,         -- items the folder's listing query had then
    full_at    REAL NOT NULL,            -- unix time (local clock) of the last full listing
    basis      TEXT NOT NULL             -- what the cached rows were filtered by (backup_dir)
) STRICT;
CREATE INDEX remote_items_by_item ON remote_items (pair, item_id);
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3)
"""Schema scripts; after applying ``MIGRATIONS[n]`` the database is at ``user_version`` n + 1."""


def schema_version(conn: sqlite3.Connection) -> int:
    """The migration count the database at ``conn`` has applied."""
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Apply the migrations ``conn`` lacks, each in its own transaction; return the new version.

    A database written by a newer dlsync is refused rather than guessed at.
    """
    current = schema_version(conn)
    if current > len(MIGRATIONS):
        raise StateError(
            f"state database {path} has schema version {current}, newer than this dlsync "
            f"understands ({len(MIGRATIONS)}); upgrade dlsync, or pass --state with another file"
        )
    for version in range(current, len(MIGRATIONS)):
        script = MIGRATIONS[version]
        conn.executescript(
            f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {version + 1};\nCOMMIT;"
        )
    return len(MIGRATIONS)
