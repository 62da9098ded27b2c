"""The gate's entities in SQLite, behind one facade: projects, datasets, items and annotations.

``Store`` composes the parts (``database.py``, ``paging.py``, ``catalog.py``, ``items.py``,
``annotations.py``) and is what routes, the recipe and task stores, tests and benchmarks call.
Every public method is one transaction under one lock, so a request either changes everything it
asked for or nothing, and tests may call the store from another thread. Methods return wire JSON
without URLs (``render.py`` adds those) and raise Refusal for anything the caller got wrong.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from dlsync.gate.annotations import Annotations
from dlsync.gate.behaviour import GateBehaviour
from dlsync.gate.catalog import Catalog
from dlsync.gate.database import Database
from dlsync.gate.documents import Blob, FileUpload
from dlsync.gate.items import Items
from dlsync.gate.paging import Pager
from dlsync.gate.records import Page

__all__ = ["Blob", "FileUpload", "Page", "Store"]


class Store:
    """SQLite-backed entity store (a file with WAL, or ``:memory:``)."""

    def __init__(self, path: Path | None = None,
                 behaviour: GateBehaviour | None = None) -> None:
        self._db = Database(path)
        self.ids = self._db.ids
        self.behaviour = behaviour or GateBehaviour()
        pager = Pager(self._db)
        self._catalog = Catalog(self._db, pager)
        self._items = Items(self._db, pager, self._catalog, self.behaviour)
        self._annotations = Annotations(self._db, pager, self._catalog, self._items)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    @contextlib.contextmanager
    def transaction(self, dataset_id: str = "") -> Iterator[sqlite3.Connection]:
        """A write transaction for other gate stores; it may change ``dataset_id``'s items."""
        with self._db.write(dataset_id) as db:
            yield db

    def rows(self, sql: str, *params: Any) -> list[sqlite3.Row]:
        """Every row ``sql`` selects, read under the store's lock."""
        return self._db.rows(sql, *params)

    # -- projects and datasets (catalog.py) -----------------------------------------------------

    def create_project(self, name: Any, user: str) -> dict[str, Any]:
        """A new project named ``name``; 409 if the name is taken."""
        return self._catalog.create_project(name, user)

    def project(self, project_id: str) -> dict[str, Any]:
        """The project ``project_id``; 404 if unknown."""
        return self._catalog.project(project_id)

    def projects(self, name: str | None = None) -> list[dict[str, Any]]:
        """Every project, or those named ``name``."""
        return self._catalog.projects(name)

    def delete_project(self, project_id: str) -> None:
        """Delete a project with its datasets; 404 if unknown."""
        self._catalog.delete_project(project_id)

    def create_dataset(self, body: Any, user: str) -> dict[str, Any]:
        """A new dataset from a ``POST /datasets`` body, with its root folder."""
        return self._catalog.create_dataset(body, user)

    def require_dataset(self, dataset_id: str) -> None:
        """Nothing if the dataset exists; 404 otherwise."""
        self._catalog.require_dataset(dataset_id)

    def dataset(self, dataset_id: str) -> dict[str, Any]:
        """The dataset ``dataset_id`` with its item and annotation counts; 404 if unknown."""
        return self._catalog.dataset(dataset_id)

    def update_dataset(self, dataset_id: str, diff: Any, user: str) -> dict[str, Any]:
        """Apply a PATCH to a dataset: ``name`` renames it, ``metadata`` merges; rest ignored."""
        return self._catalog.update_dataset(dataset_id, diff, user)

    def query_datasets(self, body: Any) -> Page:
        """Datasets matching a ``POST /datasets/query`` body (``context.projects`` scopes it)."""
        return self._catalog.query_datasets(body)

    def delete_dataset(self, dataset_id: str) -> None:
        """Delete a dataset with all its items and annotations; 404 if unknown."""
        self._catalog.delete_dataset(dataset_id)

    # -- items (items.py) -----------------------------------------------------------------------

    def item(self, item_id: str) -> dict[str, Any]:
        """The item ``item_id``; 404 if unknown."""
        return self._items.item(item_id)

    def item_blob(self, item_id: str) -> tuple[dict[str, Any], str | None]:
        """The item and the sha256 of its content (None for folders)."""
        return self._items.item_blob(item_id)

    def item_at(self, dataset_id: str, path: str) -> dict[str, Any] | None:
        """The item at ``path`` in a dataset, if any."""
        return self._items.item_at(dataset_id, path)

    def folders(self, dataset_id: str) -> list[dict[str, Any]]:
        """Every folder item of a dataset, parents before children; 404 if unknown."""
        return self._items.folders(dataset_id)

    def put_file(self, dataset_id: str, upload: FileUpload, *, user: str,
                 overwrite: bool) -> tuple[dict[str, Any], str]:
        """Store an uploaded file; returns (item, ``created|overwrite|skip``)."""
        return self._items.put_file(dataset_id, upload, user=user, overwrite=overwrite)

    def seed_files(self, dataset_id: str, paths: Iterable[str], blob: Blob, user: str) -> int:
        """Add files that all share ``blob`` in one transaction (for benchmarks and fixtures).

        Existing paths are left alone; returns how many items were added.
        """
        uploads = (FileUpload(path, blob) for path in paths)
        return self._items.seed_files(dataset_id, uploads, user)

    def seed_uploads(self, dataset_id: str, uploads: Iterable[FileUpload], user: str) -> int:
        """Add files each with its own content and metadata in one transaction (benchmarks);
        the blobs themselves are the caller's to store. Returns how many items were added."""
        return self._items.seed_files(dataset_id, uploads, user)

    def make_folder(self, dataset_id: str, path: Any, user: str) -> tuple[dict[str, Any], str]:
        """Create the folder ``path`` (and its parents); returns (folder item, op)."""
        return self._items.make_folder(dataset_id, path, user)

    def patch_item(self, item_id: str, diff: Any, *, system: bool, user: str) -> dict[str, Any]:
        """Apply a PATCH diff; a new ``filename`` moves the item (same id)."""
        return self._items.patch_item(item_id, diff, system=system, user=user)

    def move_items(self, dataset_id: str, folder_id: str, item_ids: Any,
                   user: str) -> list[dict[str, Any]]:
        """Move items (by id) into the folder item ``folder_id``; ids are kept."""
        return self._items.move_items(dataset_id, folder_id, item_ids, user)

    def delete_item(self, item_id: str) -> None:
        """Delete an item (a folder with everything in it) and its annotations."""
        self._items.delete_item(item_id)

    def query_items(self, dataset_id: str, body: Any) -> Page:
        """A page of the dataset's items matching a DQL ``body``."""
        return self._items.query_items(dataset_id, body)

    def delete_items_matching(self, dataset_id: str, body: Any) -> int:
        """Delete every item matching a DQL body (with its annotations); returns how many."""
        return self._items.delete_items_matching(dataset_id, body)

    def update_items_matching(self, dataset_id: str, body: dict[str, Any], user: str) -> int:
        """Merge ``body['update']`` into every matching item; returns how many changed."""
        return self._items.update_items_matching(dataset_id, body, user)

    # -- annotations (annotations.py) -----------------------------------------------------------

    def add_annotations(self, item_id: str, entries: Any, user: str) -> list[dict[str, Any]]:
        """Create annotations on an item from a list of annotation objects."""
        return self._annotations.add_annotations(item_id, entries, user)

    def annotation(self, annotation_id: str) -> dict[str, Any]:
        """The annotation ``annotation_id``; 404 if unknown."""
        return self._annotations.annotation(annotation_id)

    def update_annotation(self, annotation_id: str, diff: Any, user: str) -> dict[str, Any]:
        """Apply a PUT diff to an annotation."""
        return self._annotations.update_annotation(annotation_id, diff, user)

    def delete_annotations(self, dataset_id: str, ids: list[str]) -> int:
        """Delete annotations by id and fix their items' counts; returns how many."""
        return self._annotations.delete_annotations(dataset_id, ids)

    def query_annotations(self, dataset_id: str, body: Any) -> Page:
        """A page of the dataset's annotations matching a DQL ``body``."""
        return self._annotations.query_annotations(dataset_id, body)

    def delete_annotations_matching(self, dataset_id: str, body: Any) -> int:
        """Delete every annotation matching a DQL body; returns how many."""
        return self._annotations.delete_annotations_matching(dataset_id, body)
