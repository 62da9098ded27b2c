"""The lookups that run once per file use an index, so a big pair never makes them scans."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from dlsync.state import StateStore
from dlsync.state.ops import UpsertFile
from dlsync.state.queries import BY_CONTENT, UNDER_ROOT, StateReader
from tests.state.samples import TRICKY, paths, record


def test_move_candidate_lookup_searches_the_fingerprint_index(store: StateStore, pair: int,
                                                              db_path: Path) -> None:
    """``files_with_content`` finds rows through ``files_by_fingerprint``, not the pair's scan."""
    with closing(sqlite3.connect(db_path)) as conn:
        plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {BY_CONTENT}",
                                               (pair, "0" * 64, 1))]
    assert any("INDEX files_by_fingerprint" in step for step in plan), plan


def test_scoped_lookup_seeks_a_key_range(store: StateStore, pair: int, db_path: Path) -> None:
    """``files_under`` (once per root of a service batch) seeks the primary key's range."""
    with closing(sqlite3.connect(db_path)) as conn:
        plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {UNDER_ROOT}",
                                               (pair, b"a", b"a\x01"))]
    assert any("PRIMARY KEY (pair=? AND key>? AND key<?)" in step for step in plan), plan


def test_files_under_takes_a_root_and_its_subtree_only(store: StateStore, pair: int,
                                                       db_path: Path) -> None:
    store.write(UpsertFile(pair, record(name)) for name in TRICKY)
    with StateReader(db_path) as reader:
        found = paths(reader.files_under(pair, ["a/b", "ab"]))
    assert found == ["a/b", "a/b/c", "a/b/c/d", "ab"]   # not a/b-c, a-c, a.b or a
