"""The gate's entities in SQLite: projects, datasets, items (files and folders) and annotations.

Every public method is one transaction under one lock, so a request either changes everything it
asked for or nothing, and tests may call the store from another thread. Methods return wire JSON
without URLs (``render.py`` adds those) and raise Refusal for anything the caller got wrong.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from dlsync.gate import records
from dlsync.gate.documents import (
    Blob,
    annotation_doc,
    check_annotation,
    clean_name,
    file_doc,
    patch_item_doc,
)
from dlsync.gate.dql import CompiledQuery, Join, compile_query
from dlsync.gate.ids import IdGenerator
from dlsync.gate.paths import ROOT, clean_path, folder_chain, join, split_path
from dlsync.gate.recipes import recipe_metadata
from dlsync.gate.records import Page
from dlsync.gate.refusal import Refusal, bad_request, not_found
from dlsync.gate.schema import connect, highest_id

__all__ = ["Blob", "Page", "Store"]

_COUNT_CACHE_LIMIT = 4096


class Store:
    """SQLite-backed entity store (a file with WAL, or ``:memory:``)."""

    def __init__(self, path: Path | None = None) -> None:
        self._conn = connect(path)
        self._lock = threading.RLock()
        try:
            self.ids = IdGenerator(highest_id(self._conn))
        except BaseException:
            self._conn.close()
            raise
        self._versions: dict[str, int] = {}
        self._counts: dict[tuple[str, str, str], tuple[int, int]] = {}

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._conn.close()

    # -- plumbing -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _touch(self, dataset_id: str) -> None:
        self._versions[dataset_id] = self._versions.get(dataset_id, 0) + 1

    @contextlib.contextmanager
    def transaction(self, dataset_id: str = "") -> Iterator[sqlite3.Connection]:
        """A write transaction for other gate stores; it may change ``dataset_id``'s items."""
        with self._write() as db:
            yield db
            self._touch(dataset_id)

    def rows(self, sql: str, *params: Any) -> list[sqlite3.Row]:
        """Every row ``sql`` selects, read under the store's lock."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def _one(self, sql: str, *params: Any) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._conn.execute(sql, params).fetchone()
            return row

    def _count(self, table: str, scope: str, query: CompiledQuery, scope_params: tuple[Any, ...],
               dataset_id: str) -> int:
        key = (table, scope + repr(scope_params), query.count_key)
        version = self._versions.get(dataset_id, 0)
        cached = self._counts.get(key)
        if cached and cached[0] == version:
            return cached[1]
        sql = f"SELECT count(*) FROM {table} WHERE {scope} AND ({query.count_where})"
        total = int(self._conn.execute(sql, scope_params + query.count_params).fetchone()[0])
        if len(self._counts) >= _COUNT_CACHE_LIMIT:
            self._counts.clear()
        self._counts[key] = (version, total)
        return total

    def _page(self, table: str, scope: str, scope_params: tuple[Any, ...], query: CompiledQuery,
              dataset_id: str) -> tuple[list[sqlite3.Row], int, bool]:
        with self._lock:
            total = self._count(table, scope, query, scope_params, dataset_id)
            sql = (f"SELECT * FROM {table} WHERE {scope} AND ({query.where}) "
                   f"ORDER BY {query.order_by} LIMIT ? OFFSET ?")
            params = (*scope_params, *query.params, query.page_size + 1,
                      query.page * query.page_size)
            rows = self._conn.execute(sql, params).fetchall()
        return rows[: query.page_size], total, len(rows) > query.page_size

    # -- projects -------------------------------------------------------------------------------

    def create_project(self, name: Any, user: str) -> dict[str, Any]:
        """A new project named ``name``; 409 if the name is taken."""
        name = clean_name(name, "project name")
        now = records.now_iso()
        doc: dict[str, Any] = {"creator": user, "updatedAt": now, "org": None, "role": "owner",
               "isBlocked": False, "archived": False, "contributors": []}
        with self._write() as db:
            if db.execute("SELECT 1 FROM projects WHERE name = ?", (name,)).fetchone():
                raise Refusal(409, f"a project named {name!r} already exists")
            pid = self.ids.next_id()
            db.execute("INSERT INTO projects VALUES (?, ?, ?, ?)",
                       (pid, name, now, json.dumps(doc)))
        return self.project(pid)

    def project(self, project_id: str) -> dict[str, Any]:
        """The project ``project_id``; 404 if unknown."""
        row = self._one("SELECT * FROM projects WHERE id = ?", project_id)
        if row is None:
            raise not_found("project", project_id)
        return records.project_json(row)

    def projects(self, name: str | None = None) -> list[dict[str, Any]]:
        """Every project, or those named ``name``."""
        with self._lock:
            if name is None:
                rows = self._conn.execute("SELECT * FROM projects ORDER BY id").fetchall()
            else:
                rows = self._conn.execute(
                    "SELECT * FROM projects WHERE name = ? ORDER BY id", (name,)).fetchall()
            return [records.project_json(r) for r in rows]

    def delete_project(self, project_id: str) -> None:
        """Delete a project with its datasets; 404 if unknown."""
        self.project(project_id)
        with self._lock:
            ids = [r[0] for r in self._conn.execute(
                "SELECT id FROM datasets WHERE project_id = ?", (project_id,))]
        for dataset_id in ids:
            self.delete_dataset(dataset_id)
        with self._write() as db:
            db.execute("DELETE FROM projects WHERE id = ?", (project_id,))

    # -- datasets -------------------------------------------------------------------------------

    def create_dataset(self, body: Any, user: str) -> dict[str, Any]:
        """A new dataset from a ``POST /datasets`` body, with its root folder."""
        if not isinstance(body, dict):
            raise bad_request("dataset create body must be a JSON object")
        name = clean_name(body.get("name"), "dataset name")
        projects = body.get("projects")
        if not isinstance(projects, list) or len(projects) != 1 or not isinstance(projects[0], str):
            raise bad_request("dataset 'projects' must be a list with one project id")
        self.project(projects[0])
        now = records.now_iso()
        doc = {"creator": user, "updatedBy": user, "updatedAt": now, "metadata": {},
               "readableType": "dataset", "accessLevel": "owner", "readonly": False,
               "driver": body.get("driver"), "expirationOptions": body.get("expirationOptions"),
               "indexDriver": body.get("indexDriver", "v1"), "enableSyncWithCloned": False,
               "isSyncing": False, "srcDataset": None}
        with self._write() as db:
            if db.execute("SELECT 1 FROM datasets WHERE project_id = ? AND name = ?",
                          (projects[0], name)).fetchone():
                raise Refusal(409, f"a dataset named {name!r} already exists in project "
                                   f"{projects[0]}")
            dataset_id = self.ids.next_id()
            doc["metadata"] = recipe_metadata(db, self.ids, name, projects[0], user)
            db.execute("INSERT INTO datasets VALUES (?, ?, ?, ?, ?)",
                       (dataset_id, projects[0], name, now, json.dumps(doc)))
            self._insert_folder(db, dataset_id, ROOT, user)
        return self.dataset(dataset_id)

    def require_dataset(self, dataset_id: str) -> None:
        """Nothing if the dataset exists; 404 otherwise."""
        if self._one("SELECT 1 FROM datasets WHERE id = ?", dataset_id) is None:
            raise not_found("dataset", dataset_id)

    def dataset(self, dataset_id: str) -> dict[str, Any]:
        """The dataset ``dataset_id`` with its item and annotation counts; 404 if unknown."""
        row = self._one("SELECT * FROM datasets WHERE id = ?", dataset_id)
        if row is None:
            raise not_found("dataset", dataset_id)
        out = records.dataset_json(row)
        with self._lock:
            files = compile_query({"filter": {"$and": [{"type": "file"}]}}, records.ITEM_FIELDS)
            out["itemsCount"] = self._count("items", "dataset_id = ?", files, (dataset_id,),
                                            dataset_id)
            anns = compile_query({}, records.ANNOTATION_FIELDS)
            out["annotationsCount"] = self._count("annotations", "dataset_id = ?", anns,
                                                  (dataset_id,), dataset_id)
        out["annotated"] = out["annotationsCount"] > 0
        return out

    def update_dataset(self, dataset_id: str, diff: Any, user: str) -> dict[str, Any]:
        """Apply a PATCH to a dataset: ``name`` renames it, ``metadata`` merges; rest ignored."""
        if not isinstance(diff, dict):
            raise bad_request("dataset PATCH body must be a JSON object")
        row = self._one("SELECT * FROM datasets WHERE id = ?", dataset_id)
        if row is None:
            raise not_found("dataset", dataset_id)
        name = row["name"] if diff.get("name") is None else clean_name(diff["name"],
                                                                        "dataset name")
        doc = json.loads(row["doc"])
        metadata = diff.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise bad_request("dataset 'metadata' must be a JSON object")
        records.merge_diff(doc, {"metadata": metadata} if metadata else {})
        doc.update(updatedAt=records.now_iso(), updatedBy=user)
        with self._write() as db:
            if name != row["name"] and db.execute(
                "SELECT 1 FROM datasets WHERE project_id = ? AND name = ?",
                (row["project_id"], name)).fetchone():
                raise Refusal(409, f"a dataset named {name!r} already exists in project "
                                   f"{row['project_id']}")
            db.execute("UPDATE datasets SET name = ?, doc = ? WHERE id = ?",
                       (name, json.dumps(doc), dataset_id))
        return self.dataset(dataset_id)

    def query_datasets(self, body: Any) -> Page:
        """Datasets matching a ``POST /datasets/query`` body (``context.projects`` scopes it)."""
        query = compile_query(body, records.DATASET_FIELDS)
        context = body.get("context") or {}
        projects = context.get("projects") if isinstance(context, dict) else None
        scope, params = "1", tuple[Any, ...]()
        if projects is not None:
            if not isinstance(projects, list) or not all(isinstance(p, str) for p in projects):
                raise bad_request("DQL context.projects must be a list of project ids")
            scope = f"project_id IN ({','.join('?' * len(projects))})" if projects else "0"
            params = tuple[Any, ...](projects)
        rows, total, more = self._page("datasets", scope, params, query, "")
        return Page([self.dataset(r["id"]) for r in rows], total, query.page_size, more)

    def delete_dataset(self, dataset_id: str) -> None:
        """Delete a dataset with all its items and annotations; 404 if unknown."""
        self.require_dataset(dataset_id)
        with self._write() as db:
            db.execute("DELETE FROM annotations WHERE dataset_id = ?", (dataset_id,))
            db.execute("DELETE FROM items WHERE dataset_id = ?", (dataset_id,))
            db.execute("DELETE FROM datasets WHERE id = ?", (dataset_id,))
            self._touch(dataset_id)

    def folders(self, dataset_id: str) -> list[dict[str, Any]]:
        """Every folder item of a dataset, parents before children; 404 if unknown."""
        self.require_dataset(dataset_id)
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM items WHERE dataset_id = ? AND type = 'dir' ORDER BY filename",
                (dataset_id,)).fetchall()
        return [records.item_json(r) for r in rows]

    # -- items ----------------------------------------------------------------------------------

    def item(self, item_id: str) -> dict[str, Any]:
        """The item ``item_id``; 404 if unknown."""
        return records.item_json(self._item_row(item_id))

    def item_blob(self, item_id: str) -> tuple[dict[str, Any], str | None]:
        """The item and the sha256 of its content (None for folders)."""
        row = self._item_row(item_id)
        return records.item_json(row), row["blob"]

    def item_at(self, dataset_id: str, path: str) -> dict[str, Any] | None:
        """The item at ``path`` in a dataset, if any."""
        row = self._one("SELECT * FROM items WHERE dataset_id = ? AND filename = ?",
                        dataset_id, path)
        return None if row is None else records.item_json(row)

    def _item_row(self, item_id: str) -> sqlite3.Row:
        row = self._one("SELECT * FROM items WHERE id = ?", item_id)
        if row is None:
            raise not_found("item", item_id)
        return row

    def put_file(self, dataset_id: str, path: str, blob: Blob, *, metadata: dict[str, Any] | None,
                 description: str | None, user: str, overwrite: bool) -> tuple[dict[str, Any], str]:
        """Store an uploaded file at ``path``; returns (item, ``created|overwrite|skip``).

        ``skip`` leaves an existing item untouched and returns it; ``overwrite`` keeps its id.
        """
        self.require_dataset(dataset_id)
        with self._write() as db:
            existing = db.execute("SELECT * FROM items WHERE dataset_id = ? AND filename = ?",
                                  (dataset_id, path)).fetchone()
            if existing is not None and existing["type"] != "file":
                raise Refusal(409, f"{path} is a folder in dataset {dataset_id}; not replaced")
            if existing is not None and not overwrite:
                return records.item_json(existing), "skip"
            doc = file_doc(existing, path, blob, metadata, description, user)
            if existing is None:
                item_id = self._insert_file(db, dataset_id, path, blob, doc)
                op = "created"
            else:
                item_id, op = existing["id"], "overwrite"
                db.execute("UPDATE items SET blob = ?, size = ?, updated_at = ?, doc = ? "
                           "WHERE id = ?", (blob.sha256, blob.size, records.now_iso(),
                                            json.dumps(doc), item_id))
            self._touch(dataset_id)
        return self.item(item_id), op

    def _insert_file(self, db: sqlite3.Connection, dataset_id: str, path: str, blob: Blob,
                     doc: dict[str, Any]) -> str:
        folder, name = split_path(path)
        self._ensure_folders(db, dataset_id, folder, str(doc["creator"]))
        item_id = self.ids.next_id()
        now = records.now_iso()
        db.execute(
            "INSERT INTO items (id, dataset_id, filename, dir, name, type, created_at, updated_at,"
            " blob, size, doc) VALUES (?, ?, ?, ?, ?, 'file', ?, ?, ?, ?, ?)",
            (item_id, dataset_id, path, folder, name, now, now, blob.sha256, blob.size,
             json.dumps(doc)))
        return item_id

    def seed_files(self, dataset_id: str, paths: Iterable[str], blob: Blob, user: str) -> int:
        """Add files that all share ``blob`` in one transaction (for benchmarks and fixtures).

        Existing paths are left alone; returns how many items were added.
        """
        self.require_dataset(dataset_id)
        added, now = 0, records.now_iso()
        with self._write() as db:
            for path in paths:
                folder, name = split_path(clean_path(path))
                self._ensure_folders(db, dataset_id, folder, user)
                doc = file_doc(None, path, blob, None, None, user)
                added += db.execute(
                    "INSERT OR IGNORE INTO items (id, dataset_id, filename, dir, name, type, "
                    "created_at, updated_at, blob, size, doc) "
                    "VALUES (?, ?, ?, ?, ?, 'file', ?, ?, ?, ?, ?)",
                    (self.ids.next_id(), dataset_id, path, folder, name, now, now, blob.sha256,
                     blob.size, json.dumps(doc))).rowcount
            self._touch(dataset_id)
        return added

    def make_folder(self, dataset_id: str, path: Any, user: str) -> tuple[dict[str, Any], str]:
        """Create the folder ``path`` (and its parents); returns (folder item, op)."""
        path = clean_path(path, folder=True)
        self.require_dataset(dataset_id)
        with self._write() as db:
            row = db.execute("SELECT * FROM items WHERE dataset_id = ? AND filename = ?",
                             (dataset_id, path)).fetchone()
            if row is not None and row["type"] != "dir":
                raise Refusal(409, f"{path} is a file in dataset {dataset_id}, not a folder")
            if row is not None:
                return records.item_json(row), "skip"
            self._ensure_folders(db, dataset_id, path, user)
            self._touch(dataset_id)
        found = self.item_at(dataset_id, path)
        assert found is not None
        return found, "created"

    def _ensure_folders(self, db: sqlite3.Connection, dataset_id: str, folder: str,
                        user: str) -> None:
        for path in folder_chain(folder):
            row = db.execute("SELECT type FROM items WHERE dataset_id = ? AND filename = ?",
                             (dataset_id, path)).fetchone()
            if row is None:
                self._insert_folder(db, dataset_id, path, user)
            elif row["type"] != "dir":
                raise Refusal(409, f"{path} is a file in dataset {dataset_id}, not a folder")

    def _insert_folder(self, db: sqlite3.Connection, dataset_id: str, path: str,
                       user: str) -> None:
        folder, name = split_path(path)
        now = records.now_iso()
        doc = {"metadata": {"system": {"size": 0}}, "creator": user, "updatedBy": user}
        db.execute(
            "INSERT INTO items (id, dataset_id, filename, dir, name, type, created_at, updated_at,"
            " doc) VALUES (?, ?, ?, ?, ?, 'dir', ?, ?, ?)",
            (self.ids.next_id(), dataset_id, path, folder, name, now, now, json.dumps(doc)))

    def patch_item(self, item_id: str, diff: Any, *, system: bool, user: str) -> dict[str, Any]:
        """Apply a PATCH diff; a new ``filename`` moves the item (same id)."""
        if not isinstance(diff, dict):
            raise bad_request(f"item PATCH body must be a JSON object, got {type(diff).__name__}")
        row = self._item_row(item_id)
        doc = json.loads(row["doc"])
        target = diff.get("filename")
        hidden = diff.get("hidden")
        if hidden is not None and not isinstance(hidden, bool):
            raise bad_request(f"item 'hidden' must be true or false, got {hidden!r}")
        patch_item_doc(doc, diff, system=system, user=user)
        with self._write() as db:
            if target is not None and target != row["filename"]:
                self._move(db, row, clean_path(target, "filename"), user)
            db.execute("UPDATE items SET doc = ?, updated_at = ?, hidden = ? WHERE id = ?",
                       (json.dumps(doc), records.now_iso(),
                        int(row["hidden"] if hidden is None else hidden), item_id))
            self._touch(row["dataset_id"])
        return self.item(item_id)

    def move_items(self, dataset_id: str, folder_id: str, item_ids: Any,
                   user: str) -> list[dict[str, Any]]:
        """Move items (by id) into the folder item ``folder_id``; ids are kept."""
        if not isinstance(item_ids, list) or not all(isinstance(i, str) for i in item_ids):
            raise bad_request("bulk move body must be a JSON array of item ids")
        folder = self._item_row(folder_id)
        if folder["type"] != "dir" or folder["dataset_id"] != dataset_id:
            raise bad_request(f"{folder_id} is not a folder of dataset {dataset_id}")
        rows = [self._item_row(i) for i in item_ids]
        with self._write() as db:
            for row in rows:
                if row["dataset_id"] != dataset_id:
                    raise bad_request(f"item {row['id']} is not in dataset {dataset_id}")
                self._move(db, row, join(folder["filename"], row["name"]), user)
            self._touch(dataset_id)
        return [self.item(i) for i in item_ids]

    def _move(self, db: sqlite3.Connection, row: sqlite3.Row, target: str, user: str) -> None:
        source, dataset_id = row["filename"], row["dataset_id"]
        if target == source:
            return
        if source == ROOT or target.startswith(source + "/"):
            raise bad_request(f"cannot move {source} into itself ({target})")
        if db.execute("SELECT 1 FROM items WHERE dataset_id = ? AND filename = ?",
                      (dataset_id, target)).fetchone():
            raise Refusal(409, f"{target} already exists in dataset {dataset_id}")
        folder, name = split_path(target)
        self._ensure_folders(db, dataset_id, folder, user)
        if row["type"] == "dir":
            db.execute(
                "UPDATE items SET filename = ? || substr(filename, ?), dir = ? || substr(dir, ?) "
                "WHERE dataset_id = ? AND filename >= ? AND filename < ?",
                (target, len(source) + 1, target, len(source) + 1, dataset_id,
                 *_subtree(source)))
        db.execute("UPDATE items SET filename = ?, dir = ?, name = ? WHERE id = ?",
                   (target, folder, name, row["id"]))

    def delete_item(self, item_id: str) -> None:
        """Delete an item (a folder with everything in it) and its annotations."""
        row = self._item_row(item_id)
        if row["filename"] == ROOT:
            raise bad_request(f"the root folder of dataset {row['dataset_id']} cannot be deleted")
        with self._write() as db:
            ids = [item_id]
            if row["type"] == "dir":
                ids += [r[0] for r in db.execute(
                    "SELECT id FROM items WHERE dataset_id = ? AND filename >= ? AND filename < ?",
                    (row["dataset_id"], *_subtree(row["filename"])))]
            _delete_items(db, ids)
            self._touch(row["dataset_id"])

    def query_items(self, dataset_id: str, body: Any) -> Page:
        """A page of the dataset's items matching a DQL ``body``."""
        self.require_dataset(dataset_id)
        query = compile_query(body, records.ITEM_FIELDS, records.ITEM_JOINS)
        rows, total, more = self._page("items", "dataset_id = ?", (dataset_id,), query, dataset_id)
        return Page([records.item_json(r) for r in rows], total, query.page_size, more)

    def _matching_ids(self, table: str, dataset_id: str, body: Any, fields: dict[str, str],
                      joins: dict[str, Join]) -> list[str]:
        query = compile_query(body, fields, joins)
        sql = f"SELECT id FROM {table} WHERE dataset_id = ? AND ({query.where})"
        with self._lock:
            return [r[0] for r in self._conn.execute(sql, (dataset_id, *query.params))]

    def delete_items_matching(self, dataset_id: str, body: Any) -> int:
        """Delete every item matching a DQL body (with its annotations); returns how many."""
        self.require_dataset(dataset_id)
        ids = self._matching_ids("items", dataset_id, body, records.ITEM_FIELDS,
                                records.ITEM_JOINS)
        root = self.item_at(dataset_id, ROOT)
        ids = [i for i in ids if root is None or i != root["id"]]
        with self._write() as db:
            _delete_items(db, ids)
            self._touch(dataset_id)
        return len(ids)

    def update_items_matching(self, dataset_id: str, body: dict[str, Any], user: str) -> int:
        """Merge ``body['update']`` into every matching item; returns how many changed."""
        update = body.get("update")
        if not isinstance(update, dict):
            raise bad_request("DQL 'update' must be a JSON object")
        self.require_dataset(dataset_id)
        ids = self._matching_ids("items", dataset_id, body, records.ITEM_FIELDS,
                                records.ITEM_JOINS)
        system = body.get("systemSpace") is True
        with self._write() as db:
            for item_id in ids:
                row = db.execute("SELECT doc FROM items WHERE id = ?", (item_id,)).fetchone()
                doc = json.loads(row["doc"])
                patch_item_doc(doc, update, system=system, user=user)
                db.execute("UPDATE items SET doc = ?, updated_at = ? WHERE id = ?",
                           (json.dumps(doc), records.now_iso(), item_id))
            self._touch(dataset_id)
        return len(ids)

    # -- annotations ----------------------------------------------------------------------------

    def add_annotations(self, item_id: str, entries: Any, user: str) -> list[dict[str, Any]]:
        """Create annotations on an item from a list of annotation objects."""
        if isinstance(entries, dict):
            entries = [entries]
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise bad_request(f"annotations for item {item_id} must be a JSON array of objects")
        row = self._item_row(item_id)
        docs = [annotation_doc(e, row, user, i) for i, e in enumerate(entries)]
        with self._write() as db:
            for doc in docs:
                doc["id"] = self.ids.next_id()
                db.execute("INSERT INTO annotations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (doc["id"], item_id, row["dataset_id"], doc["type"], doc.get("label"),
                            doc["createdAt"], doc["updatedAt"], json.dumps(doc)))
            db.execute("UPDATE items SET annotations_count = annotations_count + ? WHERE id = ?",
                       (len(docs), item_id))
            self._touch(row["dataset_id"])
        return docs

    def annotation(self, annotation_id: str) -> dict[str, Any]:
        """The annotation ``annotation_id``; 404 if unknown."""
        row = self._one("SELECT * FROM annotations WHERE id = ?", annotation_id)
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
        with self._write() as db:
            db.execute("UPDATE annotations SET type = ?, label = ?, updated_at = ?, doc = ? "
                       "WHERE id = ?", (doc["type"], doc.get("label"), doc["updatedAt"],
                                        json.dumps(doc), annotation_id))
            self._touch(doc["datasetId"])
        return doc

    def delete_annotations(self, dataset_id: str, ids: list[str]) -> int:
        """Delete annotations by id and fix their items' counts; returns how many."""
        with self._write() as db:
            _delete_annotations(db, ids)
            self._touch(dataset_id)
        return len(ids)

    def query_annotations(self, dataset_id: str, body: Any) -> Page:
        """A page of the dataset's annotations matching a DQL ``body``."""
        self.require_dataset(dataset_id)
        query = compile_query(body, records.ANNOTATION_FIELDS, records.ANNOTATION_JOINS)
        rows, total, more = self._page("annotations", "dataset_id = ?", (dataset_id,), query,
                                       dataset_id)
        return Page([records.annotation_json(r) for r in rows], total, query.page_size, more)

    def delete_annotations_matching(self, dataset_id: str, body: Any) -> int:
        """Delete every annotation matching a DQL body; returns how many."""
        self.require_dataset(dataset_id)
        ids = self._matching_ids("annotations", dataset_id, body, records.ANNOTATION_FIELDS,
                                records.ANNOTATION_JOINS)
        return self.delete_annotations(dataset_id, ids)


def _subtree(folder: str) -> tuple[str, str]:
    """Bounds of every path strictly inside ``folder``: ``[folder + "/", folder + "0")``.

    ``0`` is the character after ``/``, so the range is exactly the folder's descendants and
    SQLite can read it from the (dataset_id, filename) index.
    """
    return folder + "/", folder + "0"


def _delete_annotations(db: sqlite3.Connection, ids: list[str]) -> None:
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        items = [r[0] for r in db.execute(
            f"SELECT DISTINCT item_id FROM annotations WHERE id IN ({marks})", chunk)]
        db.execute(f"DELETE FROM annotations WHERE id IN ({marks})", chunk)
        # a deleted annotation leaves no row to find by its updatedAt: its item's moves instead
        now = records.now_iso()
        db.executemany("UPDATE items SET annotations_count = (SELECT count(*) FROM annotations "
                       "WHERE item_id = items.id), updated_at = ? WHERE id = ?",
                       [(now, i) for i in items])


def _delete_items(db: sqlite3.Connection, ids: list[str]) -> None:
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        db.execute(f"DELETE FROM annotations WHERE item_id IN ({marks})", chunk)
        db.execute(f"DELETE FROM items WHERE id IN ({marks})", chunk)
