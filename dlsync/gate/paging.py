"""Pages of compiled DQL queries, with total counts cached per dataset write version.

A ``Scope`` names the rows a query may see (a table and a condition, e.g. one dataset's items).
The total of a filter is counted once per (scope, filter, write version) and reused for every page,
so paging a large dataset costs one count plus one indexed range read per page.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from dlsync.gate.database import Database
from dlsync.gate.dql import CompiledQuery

_COUNT_CACHE_LIMIT = 4096


@dataclass(frozen=True)
class Scope:
    """The rows of ``table`` where ``where`` holds; ``dataset_id`` is whose writes change them."""

    table: str
    where: str
    params: tuple[Any, ...]
    dataset_id: str

    @classmethod
    def of_dataset(cls, table: str, dataset_id: str) -> Scope:
        """The rows of ``table`` (items or annotations) in one dataset."""
        return cls(table, "dataset_id = ?", (dataset_id,), dataset_id)


class Pager:
    """Counts, pages and id lists of queries over a ``Database``."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._counts: dict[tuple[str, str, str], tuple[int, int]] = {}

    def count(self, scope: Scope, query: CompiledQuery) -> int:
        """How many rows of ``scope`` match ``query``'s filter (keyset clauses left out)."""
        key = (scope.table, scope.where + repr(scope.params), query.count_key)
        with self._db.read() as conn:
            version = self._db.version(scope.dataset_id)
            cached = self._counts.get(key)
            if cached and cached[0] == version:
                return cached[1]
            sql = (f"SELECT count(*) FROM {scope.table} "
                   f"WHERE {scope.where} AND ({query.count_where})")
            total = int(conn.execute(sql, scope.params + query.count_params).fetchone()[0])
            if len(self._counts) >= _COUNT_CACHE_LIMIT:
                self._counts.clear()
            self._counts[key] = (version, total)
        return total

    def page(self, scope: Scope, query: CompiledQuery) -> tuple[list[sqlite3.Row], int, bool]:
        """(rows of the query's page, total, whether another page follows)."""
        with self._db.read() as conn:
            total = self.count(scope, query)
            sql = (f"SELECT * FROM {scope.table} WHERE {scope.where} AND ({query.where}) "
                   f"ORDER BY {query.order_by} LIMIT ? OFFSET ?")
            params = (*scope.params, *query.params, query.page_size + 1,
                      query.page * query.page_size)
            rows = conn.execute(sql, params).fetchall()
        return rows[: query.page_size], total, len(rows) > query.page_size

    def ids(self, scope: Scope, query: CompiledQuery) -> list[str]:
        """The ids of every row of ``scope`` matching ``query`` (paging ignored)."""
        sql = f"SELECT id FROM {scope.table} WHERE {scope.where} AND ({query.where})"
        with self._db.read() as conn:
            return [r[0] for r in conn.execute(sql, (*scope.params, *query.params))]
