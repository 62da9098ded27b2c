"""Items, files and folders: read, uploaded, patched, moved, deleted, and queried by DQL.

Every method is one transaction; a write bumps its dataset's version (``database.py``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from dlsync.gate import records
from dlsync.gate.behaviour import GateBehaviour, without_updated_at_sort
from dlsync.gate.catalog import Catalog
from dlsync.gate.database import Database
from dlsync.gate.documents import FileUpload, file_doc, patch_item_doc
from dlsync.gate.dql import compile_query
from dlsync.gate.folders import FolderTree, delete_items
from dlsync.gate.paging import Pager, Scope
from dlsync.gate.paths import ROOT, clean_path, join, split_path
from dlsync.gate.records import Page
from dlsync.gate.refusal import Refusal, bad_request, not_found

_INSERT_FILE = (
    "INSERT {verb} INTO items (id, dataset_id, filename, dir, name, type, created_at, updated_at,"
    " blob, size, doc) VALUES (?, ?, ?, ?, ?, 'file', ?, ?, ?, ?, ?)")


class Items:
    """The items of every dataset in a ``Database``."""

    def __init__(self, db: Database, pager: Pager, catalog: Catalog,
                 behaviour: GateBehaviour) -> None:
        self._db = db
        self._pager = pager
        self._catalog = catalog
        self.behaviour = behaviour

    def _tree(self, db: sqlite3.Connection, dataset_id: str) -> FolderTree:
        return FolderTree(db, self._db.ids, dataset_id)

    # -- reads ----------------------------------------------------------------------------------

    def item(self, item_id: str) -> dict[str, Any]:
        """The item ``item_id``; 404 if unknown."""
        return records.item_json(self.row(item_id))

    def item_blob(self, item_id: str) -> tuple[dict[str, Any], str | None]:
        """The item and the sha256 of its content (None for folders)."""
        row = self.row(item_id)
        return records.item_json(row), row["blob"]

    def item_at(self, dataset_id: str, path: str) -> dict[str, Any] | None:
        """The item at ``path`` in a dataset, if any."""
        row = self._db.one("SELECT * FROM items WHERE dataset_id = ? AND filename = ?",
                           dataset_id, path)
        return None if row is None else records.item_json(row)

    def row(self, item_id: str) -> sqlite3.Row:
        """The database row of item ``item_id``; 404 if unknown."""
        row = self._db.one("SELECT * FROM items WHERE id = ?", item_id)
        if row is None:
            raise not_found("item", item_id)
        return row

    def folders(self, dataset_id: str) -> list[dict[str, Any]]:
        """Every folder item of a dataset, parents before children; 404 if unknown."""
        self._catalog.require_dataset(dataset_id)
        rows = self._db.rows(
            "SELECT * FROM items WHERE dataset_id = ? AND type = 'dir' ORDER BY filename",
            dataset_id)
        return [records.item_json(r) for r in rows]

    def query_items(self, dataset_id: str, body: Any) -> Page:
        """A page of the dataset's items matching a DQL ``body``."""
        self._catalog.require_dataset(dataset_id)
        if not self.behaviour.sort_by_updated_at:
            body = without_updated_at_sort(body)
        query = compile_query(body, records.ITEM_FIELDS, records.ITEM_JOINS)
        rows, total, more = self._pager.page(Scope.of_dataset("items", dataset_id), query)
        return Page([records.item_json(r) for r in rows], total, query.page_size, more)

    def _matching_ids(self, dataset_id: str, body: Any) -> list[str]:
        self._catalog.require_dataset(dataset_id)
        query = compile_query(body, records.ITEM_FIELDS, records.ITEM_JOINS)
        return self._pager.ids(Scope.of_dataset("items", dataset_id), query)

    # -- files and folders ----------------------------------------------------------------------

    def put_file(self, dataset_id: str, upload: FileUpload, *, user: str,
                 overwrite: bool) -> tuple[dict[str, Any], str]:
        """Store an uploaded file; returns (item, ``created|overwrite|skip``).

        ``skip`` leaves an existing item untouched and returns it; ``overwrite`` keeps its id.
        """
        self._catalog.require_dataset(dataset_id)
        path, blob = upload.path, upload.blob
        with self._db.write(dataset_id) as db:
            existing = db.execute("SELECT * FROM items WHERE dataset_id = ? AND filename = ?",
                                  (dataset_id, path)).fetchone()
            if existing is not None and existing["type"] != "file":
                raise Refusal(409, f"{path} is a folder in dataset {dataset_id}; not replaced")
            if existing is not None and not overwrite:
                return records.item_json(existing), "skip"
            if existing is not None and not self.behaviour.overwrite_keeps_id:
                delete_items(db, [existing["id"]])  # a new item replaces it
                existing = None
            doc = file_doc(existing, upload, user)
            if existing is None:
                item_id, op = self._insert_file(db, dataset_id, upload, doc), "created"
            else:
                item_id, op = existing["id"], "overwrite"
                db.execute("UPDATE items SET blob = ?, size = ?, updated_at = ?, doc = ? "
                           "WHERE id = ?", (blob.sha256, blob.size, records.now_iso(),
                                            json.dumps(doc), item_id))
        return self.item(item_id), op

    def _insert_file(self, db: sqlite3.Connection, dataset_id: str, upload: FileUpload,
                     doc: dict[str, Any]) -> str:
        folder, name = split_path(upload.path)
        self._tree(db, dataset_id).ensure_folders(folder, str(doc["creator"]))
        item_id = self._db.ids.next_id()
        now = records.now_iso()
        db.execute(_INSERT_FILE.format(verb=""),
                   (item_id, dataset_id, upload.path, folder, name, now, now, upload.blob.sha256,
                    upload.blob.size, json.dumps(doc)))
        return item_id

    def seed_files(self, dataset_id: str, uploads: Iterable[FileUpload], user: str) -> int:
        """Add files in one transaction (for benchmarks and fixtures).

        Existing paths are left alone; returns how many items were added.
        """
        self._catalog.require_dataset(dataset_id)
        added, now = 0, records.now_iso()
        with self._db.write(dataset_id) as db:
            tree = self._tree(db, dataset_id)
            for upload in uploads:
                folder, name = split_path(clean_path(upload.path))
                tree.ensure_folders(folder, user)
                doc = file_doc(None, upload, user)
                added += db.execute(
                    _INSERT_FILE.format(verb="OR IGNORE"),
                    (self._db.ids.next_id(), dataset_id, upload.path, folder, name, now, now,
                     upload.blob.sha256, upload.blob.size, json.dumps(doc))).rowcount
        return added

    def make_folder(self, dataset_id: str, path: Any, user: str) -> tuple[dict[str, Any], str]:
        """Create the folder ``path`` (and its parents); returns (folder item, op)."""
        path = clean_path(path, folder=True)
        self._catalog.require_dataset(dataset_id)
        with self._db.write(dataset_id) as db:
            row = db.execute("SELECT * FROM items WHERE dataset_id = ? AND filename = ?",
                             (dataset_id, path)).fetchone()
            if row is not None and row["type"] != "dir":
                raise Refusal(409, f"{path} is a file in dataset {dataset_id}, not a folder")
            if row is not None:
                return records.item_json(row), "skip"
            self._tree(db, dataset_id).ensure_folders(path, user)
        found = self.item_at(dataset_id, path)
        assert found is not None
        return found, "created"

    # -- changes --------------------------------------------------------------------------------

    def patch_item(self, item_id: str, diff: Any, *, system: bool, user: str) -> dict[str, Any]:
        """Apply a PATCH diff; a new ``filename`` moves the item (same id)."""
        if not isinstance(diff, dict):
            raise bad_request(f"item PATCH body must be a JSON object, got {type(diff).__name__}")
        row = self.row(item_id)
        doc = json.loads(row["doc"])
        target = diff.get("filename")
        hidden = diff.get("hidden")
        if hidden is not None and not isinstance(hidden, bool):
            raise bad_request(f"item 'hidden' must be true or false, got {hidden!r}")
        patch_item_doc(doc, diff, system=system, user=user)
        with self._db.write(row["dataset_id"]) as db:
            if target is not None and target != row["filename"]:
                self._tree(db, row["dataset_id"]).move(row, clean_path(target, "filename"), user)
            db.execute("UPDATE items SET doc = ?, updated_at = ?, hidden = ? WHERE id = ?",
                       (json.dumps(doc), records.now_iso(),
                        int(row["hidden"] if hidden is None else hidden), item_id))
        return self.item(item_id)

    def move_items(self, dataset_id: str, folder_id: str, item_ids: Any,
                   user: str) -> list[dict[str, Any]]:
        """Move items (by id) into the folder item ``folder_id``; ids are kept."""
        if not isinstance(item_ids, list) or not all(isinstance(i, str) for i in item_ids):
            raise bad_request("bulk move body must be a JSON array of item ids")
        folder = self.row(folder_id)
        if folder["type"] != "dir" or folder["dataset_id"] != dataset_id:
            raise bad_request(f"{folder_id} is not a folder of dataset {dataset_id}")
        rows = [self.row(i) for i in item_ids]
        with self._db.write(dataset_id) as db:
            tree = self._tree(db, dataset_id)
            for row in rows:
                if row["dataset_id"] != dataset_id:
                    raise bad_request(f"item {row['id']} is not in dataset {dataset_id}")
                tree.move(row, join(folder["filename"], row["name"]), user)
        return [self.item(i) for i in item_ids]

    def update_items_matching(self, dataset_id: str, body: dict[str, Any], user: str) -> int:
        """Merge ``body['update']`` into every matching item; returns how many changed."""
        update = body.get("update")
        if not isinstance(update, dict):
            raise bad_request("DQL 'update' must be a JSON object")
        ids = self._matching_ids(dataset_id, body)
        system = body.get("systemSpace") is True
        with self._db.write(dataset_id) as db:
            for item_id in ids:
                row = db.execute("SELECT doc FROM items WHERE id = ?", (item_id,)).fetchone()
                doc = json.loads(row["doc"])
                patch_item_doc(doc, update, system=system, user=user)
                db.execute("UPDATE items SET doc = ?, updated_at = ? WHERE id = ?",
                           (json.dumps(doc), records.now_iso(), item_id))
        return len(ids)

    # -- deletes --------------------------------------------------------------------------------

    def delete_item(self, item_id: str) -> None:
        """Delete an item (a folder with everything in it) and its annotations."""
        row = self.row(item_id)
        if row["filename"] == ROOT:
            raise bad_request(f"the root folder of dataset {row['dataset_id']} cannot be deleted")
        with self._db.write(row["dataset_id"]) as db:
            ids = [item_id]
            if row["type"] == "dir":
                ids += self._tree(db, row["dataset_id"]).ids_under(row["filename"])
            delete_items(db, ids)

    def delete_items_matching(self, dataset_id: str, body: Any) -> int:
        """Delete every item matching a DQL body (with its annotations); returns how many."""
        ids = self._matching_ids(dataset_id, body)
        root = self.item_at(dataset_id, ROOT)
        ids = [i for i in ids if root is None or i != root["id"]]
        with self._db.write(dataset_id) as db:
            delete_items(db, ids)
        return len(ids)
