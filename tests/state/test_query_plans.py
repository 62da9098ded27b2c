"""The lookups that run once per file use an index, so a big pair never makes them scans."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from dlsync.state import StateStore
from dlsync.state.queries import BY_CONTENT


def test_move_candidate_lookup_searches_the_fingerprint_index(store: StateStore, pair: int,
                                                              db_path: Path) -> None:
    """``files_with_content`` finds rows through ``files_by_fingerprint``, not the pair's scan."""
    with closing(sqlite3.connect(db_path)) as conn:
        plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {BY_CONTENT}",
                                               (pair, "0" * 64, 1))]
    assert any("INDEX files_by_fingerprint" in step for step in plan), plan
