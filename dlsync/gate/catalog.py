"""Projects and their datasets: created, read, renamed, listed by DQL and deleted.

A dataset is created with its root folder and its default recipe and ontology; deleting it
deletes its items and annotations, and deleting a project deletes its datasets.
"""

from __future__ import annotations

import json
from typing import Any

from dlsync.gate import records
from dlsync.gate.database import CATALOG, Database
from dlsync.gate.documents import clean_name
from dlsync.gate.dql import compile_query
from dlsync.gate.folders import FolderTree
from dlsync.gate.paging import Pager, Scope
from dlsync.gate.paths import ROOT
from dlsync.gate.recipes import recipe_metadata
from dlsync.gate.records import Page
from dlsync.gate.refusal import Refusal, bad_request, not_found

# A dataset's figures: its files and its annotations.
_FILES = compile_query({"filter": {"$and": [{"type": "file"}]}}, records.ITEM_FIELDS)
_ANNOTATIONS = compile_query({}, records.ANNOTATION_FIELDS)


class Catalog:
    """Projects and datasets in a ``Database``."""

    def __init__(self, db: Database, pager: Pager) -> None:
        self._db = db
        self._pager = pager

    # -- projects -------------------------------------------------------------------------------

    def create_project(self, name: Any, user: str) -> dict[str, Any]:
        """A new project named ``name``; 409 if the name is taken."""
        name = clean_name(name, "project name")
        now = records.now_iso()
        doc: dict[str, Any] = {"creator": user, "updatedAt": now, "org": None, "role": "owner",
               "isBlocked": False, "archived": False, "contributors": []}
        with self._db.write() as db:
            if db.execute("SELECT 1 FROM projects WHERE name = ?", (name,)).fetchone():
                raise Refusal(409, f"a project named {name!r} already exists")
            pid = self._db.ids.next_id()
            db.execute("INSERT INTO projects VALUES (?, ?, ?, ?)",
                       (pid, name, now, json.dumps(doc)))
        return self.project(pid)

    def project(self, project_id: str) -> dict[str, Any]:
        """The project ``project_id``; 404 if unknown."""
        row = self._db.one("SELECT * FROM projects WHERE id = ?", project_id)
        if row is None:
            raise not_found("project", project_id)
        return records.project_json(row)

    def projects(self, name: str | None = None) -> list[dict[str, Any]]:
        """Every project, or those named ``name``."""
        if name is None:
            rows = self._db.rows("SELECT * FROM projects ORDER BY id")
        else:
            rows = self._db.rows("SELECT * FROM projects WHERE name = ? ORDER BY id", name)
        return [records.project_json(r) for r in rows]

    def delete_project(self, project_id: str) -> None:
        """Delete a project with its datasets; 404 if unknown."""
        self.project(project_id)
        rows = self._db.rows("SELECT id FROM datasets WHERE project_id = ?", project_id)
        for row in rows:
            self.delete_dataset(row["id"])
        with self._db.write() as db:
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
        with self._db.write(CATALOG) as db:
            self._refuse_taken_name(projects[0], name)
            dataset_id = self._db.ids.next_id()
            doc["metadata"] = recipe_metadata(db, self._db.ids, name, projects[0], user)
            db.execute("INSERT INTO datasets VALUES (?, ?, ?, ?, ?)",
                       (dataset_id, projects[0], name, now, json.dumps(doc)))
            FolderTree(db, self._db.ids, dataset_id).insert_folder(ROOT, user)
        return self.dataset(dataset_id)

    def _refuse_taken_name(self, project_id: str, name: str) -> None:
        if self._db.one("SELECT 1 FROM datasets WHERE project_id = ? AND name = ?",
                        project_id, name):
            raise Refusal(409, f"a dataset named {name!r} already exists in project "
                               f"{project_id}")

    def require_dataset(self, dataset_id: str) -> None:
        """Nothing if the dataset exists; 404 otherwise."""
        if self._db.one("SELECT 1 FROM datasets WHERE id = ?", dataset_id) is None:
            raise not_found("dataset", dataset_id)

    def dataset(self, dataset_id: str) -> dict[str, Any]:
        """The dataset ``dataset_id`` with its item and annotation counts; 404 if unknown."""
        row = self._db.one("SELECT * FROM datasets WHERE id = ?", dataset_id)
        if row is None:
            raise not_found("dataset", dataset_id)
        out = records.dataset_json(row)
        with self._db.read():
            out["itemsCount"] = self._pager.count(Scope.of_dataset("items", dataset_id), _FILES)
            out["annotationsCount"] = self._pager.count(
                Scope.of_dataset("annotations", dataset_id), _ANNOTATIONS)
        out["annotated"] = out["annotationsCount"] > 0
        return out

    def update_dataset(self, dataset_id: str, diff: Any, user: str) -> dict[str, Any]:
        """Apply a PATCH to a dataset: ``name`` renames it, ``metadata`` merges; rest ignored."""
        if not isinstance(diff, dict):
            raise bad_request("dataset PATCH body must be a JSON object")
        row = self._db.one("SELECT * FROM datasets WHERE id = ?", dataset_id)
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
        with self._db.write(CATALOG) as db:
            if name != row["name"]:
                self._refuse_taken_name(row["project_id"], name)
            db.execute("UPDATE datasets SET name = ?, doc = ? WHERE id = ?",
                       (name, json.dumps(doc), dataset_id))
        return self.dataset(dataset_id)

    def query_datasets(self, body: Any) -> Page:
        """Datasets matching a ``POST /datasets/query`` body (``context.projects`` scopes it)."""
        query = compile_query(body, records.DATASET_FIELDS)
        context = body.get("context") or {}
        projects = context.get("projects") if isinstance(context, dict) else None
        scope = Scope("datasets", "1", (), CATALOG)
        if projects is not None:
            if not isinstance(projects, list) or not all(isinstance(p, str) for p in projects):
                raise bad_request("DQL context.projects must be a list of project ids")
            where = f"project_id IN ({','.join('?' * len(projects))})" if projects else "0"
            scope = Scope("datasets", where, tuple(projects), CATALOG)
        rows, total, more = self._pager.page(scope, query)
        return Page([self.dataset(r["id"]) for r in rows], total, query.page_size, more)

    def delete_dataset(self, dataset_id: str) -> None:
        """Delete a dataset with all its items and annotations; 404 if unknown."""
        self.require_dataset(dataset_id)
        with self._db.write(dataset_id, CATALOG) as db:
            db.execute("DELETE FROM annotations WHERE dataset_id = ?", (dataset_id,))
            db.execute("DELETE FROM items WHERE dataset_id = ?", (dataset_id,))
            db.execute("DELETE FROM datasets WHERE id = ?", (dataset_id,))
