"""Annotations on items: added, read, updated, deleted (keeping items' counts), queried by DQL."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from dlsync.gate import records
from dlsync.gate.behaviour import without_updated_at_sort
from dlsync.gate.catalog import Catalog
from dlsync.gate.database import Database
from dlsync.gate.documents import annotation_doc, check_annotation
from dlsync.gate.dql import compile_query
from dlsync.gate.items import Items
from dlsync.gate.paging import Pager, Scope
from dlsync.gate.records import Page
from dlsync.gate.refusal import bad_request, not_found

_CHUNK = 500


class Annotations:
    """The annotations of every item in a ``Database``."""

    def __init__(self, db: Database, pager: Pager, catalog: Catalog, items: Items) -> None:
        self._db = db
        self._pager = pager
        self._catalog = catalog
        self._items = items

    def add_annotations(self, item_id: str, entries: Any, user: str) -> list[dict[str, Any]]:
        """Create annotations on an item from a list of annotation objects."""
        if isinstance(entries, dict):
            entries = [entries]
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise bad_request(f"annotations for item {item_id} must be a JSON array of objects")
        row = self._items.row(item_id)
        docs = [annotation_doc(e, row, user, i) for i, e in enumerate(entries)]
        with self._db.write(row["dataset_id"]) as db:
            for doc in docs:
                doc["id"] = self._db.ids.next_id()
                db.execute("INSERT INTO annotations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (doc["id"], item_id, row["dataset_id"], doc["type"], doc.get("label"),
                            doc["createdAt"], doc["updatedAt"], json.dumps(doc)))
            db.execute("UPDATE items SET annotations_count = annotations_count + ? WHERE id = ?",
                       (len(docs), item_id))
        return docs

    def annotation(self, annotation_id: str) -> dict[str, Any]:
        """The annotation ``annotation_id``; 404 if unknown."""
        row = self._db.one("SELECT * FROM annotations WHERE id = ?", annotation_id)
        if row is None:
            raise not_found("annotation", annotation_id)
        return records.annotation_json(row)

    def update_annotation(self, annotation_id: str, diff: Any, user: str) -> dict[str, Any]:
        """Apply a PUT diff to an annotation."""
        if not isinstance(diff, dict):
            raise bad_request("annotation update body must be a JSON object")
        doc = self.annotation(annotation_id)
        changes = {k: v for k, v in diff.items() if k not in records.ANNOTATION_OWNED}
        records.merge_diff(doc, changes)
        check_annotation(doc, annotation_id)
        doc.update(updatedAt=records.now_iso(), updatedBy=user)
        with self._db.write(doc["datasetId"]) as db:
            db.execute("UPDATE annotations SET type = ?, label = ?, updated_at = ?, doc = ? "
                       "WHERE id = ?", (doc["type"], doc.get("label"), doc["updatedAt"],
                                        json.dumps(doc), annotation_id))
        return doc

    def delete_annotations(self, dataset_id: str, ids: list[str]) -> int:
        """Delete annotations by id and fix their items' counts; returns how many."""
        with self._db.write(dataset_id) as db:
            _delete_annotations(db, ids, self._items.behaviour.annotation_delete_moves_item)
        return len(ids)

    def query_annotations(self, dataset_id: str, body: Any) -> Page:
        """A page of the dataset's annotations matching a DQL ``body``."""
        self._catalog.require_dataset(dataset_id)
        if not self._items.behaviour.sort_by_updated_at:
            body = without_updated_at_sort(body)
        query = compile_query(body, records.ANNOTATION_FIELDS, records.ANNOTATION_JOINS)
        rows, total, more = self._pager.page(Scope.of_dataset("annotations", dataset_id), query)
        return Page([records.annotation_json(r) for r in rows], total, query.page_size, more)

    def delete_annotations_matching(self, dataset_id: str, body: Any) -> int:
        """Delete every annotation matching a DQL body; returns how many."""
        self._catalog.require_dataset(dataset_id)
        query = compile_query(body, records.ANNOTATION_FIELDS, records.ANNOTATION_JOINS)
        ids = self._pager.ids(Scope.of_dataset("annotations", dataset_id), query)
        return self.delete_annotations(dataset_id, ids)


def _delete_annotations(db: sqlite3.Connection, ids: list[str], moves_item: bool) -> None:
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        items = [r[0] for r in db.execute(
            f"SELECT DISTINCT item_id FROM annotations WHERE id IN ({marks})", chunk)]
        db.execute(f"DELETE FROM annotations WHERE id IN ({marks})", chunk)
        # a deleted annotation leaves no row to find by its updatedAt: its item's moves instead
        count = ("UPDATE items SET annotations_count = (SELECT count(*) FROM annotations "
                 "WHERE item_id = items.id)")
        if moves_item:
            now = records.now_iso()
            db.executemany(count + ", updated_at = ? WHERE id = ?", [(now, i) for i in items])
        else:
            db.executemany(count + " WHERE id = ?", [(i,) for i in items])
