"""The folder tree of one dataset inside a write transaction: folder rows, moves, subtrees.

Folders are items of type ``dir`` whose ``filename`` is their full path. They are created
implicitly for every path written, and a folder moves or is deleted with everything under it.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from dlsync.gate import records
from dlsync.gate.ids import IdGenerator
from dlsync.gate.paths import ROOT, folder_chain, split_path
from dlsync.gate.refusal import Refusal, bad_request

_CHUNK = 500


def subtree(folder: str) -> tuple[str, str]:
    """Bounds of every path strictly inside ``folder``: ``[folder + "/", folder + "0")``.

    ``0`` is the character after ``/``, so the range is exactly the folder's descendants and
    SQLite can read it from the (dataset_id, filename) index.
    """
    return folder + "/", folder + "0"


@dataclass(frozen=True)
class FolderTree:
    """Dataset ``dataset_id``'s folders, changed through ``db`` (an open write transaction)."""

    db: sqlite3.Connection
    ids: IdGenerator
    dataset_id: str

    def insert_folder(self, path: str, user: str) -> None:
        """Add the folder item ``path`` (its parents must exist)."""
        folder, name = split_path(path)
        now = records.now_iso()
        doc = {"metadata": {"system": {"size": 0}}, "creator": user, "updatedBy": user}
        self.db.execute(
            "INSERT INTO items (id, dataset_id, filename, dir, name, type, created_at, updated_at,"
            " doc) VALUES (?, ?, ?, ?, ?, 'dir', ?, ?, ?)",
            (self.ids.next_id(), self.dataset_id, path, folder, name, now, now, json.dumps(doc)))

    def ensure_folders(self, folder: str, user: str) -> None:
        """Add ``folder`` and its missing parents; 409 if a file stands on that path."""
        for path in folder_chain(folder):
            row = self.db.execute("SELECT type FROM items WHERE dataset_id = ? AND filename = ?",
                                  (self.dataset_id, path)).fetchone()
            if row is None:
                self.insert_folder(path, user)
            elif row["type"] != "dir":
                raise Refusal(409, f"{path} is a file in dataset {self.dataset_id}, not a folder")

    def move(self, row: sqlite3.Row, target: str, user: str) -> None:
        """Move the item ``row`` (a folder with its contents) to ``target``; the ids stay."""
        source = row["filename"]
        if target == source:
            return
        if source == ROOT or target.startswith(source + "/"):
            raise bad_request(f"cannot move {source} into itself ({target})")
        if self.db.execute("SELECT 1 FROM items WHERE dataset_id = ? AND filename = ?",
                           (self.dataset_id, target)).fetchone():
            raise Refusal(409, f"{target} already exists in dataset {self.dataset_id}")
        folder, name = split_path(target)
        self.ensure_folders(folder, user)
        if row["type"] == "dir":
            self.db.execute(
                "UPDATE items SET filename = ? || substr(filename, ?), dir = ? || substr(dir, ?) "
                "WHERE dataset_id = ? AND filename >= ? AND filename < ?",
                (target, len(source) + 1, target, len(source) + 1, self.dataset_id,
                 *subtree(source)))
        self.db.execute("UPDATE items SET filename = ?, dir = ?, name = ? WHERE id = ?",
                        (target, folder, name, row["id"]))

    def ids_under(self, folder: str) -> list[str]:
        """The ids of every item inside ``folder`` (not the folder itself)."""
        return [r[0] for r in self.db.execute(
            "SELECT id FROM items WHERE dataset_id = ? AND filename >= ? AND filename < ?",
            (self.dataset_id, *subtree(folder)))]


def delete_items(db: sqlite3.Connection, ids: list[str]) -> None:
    """Delete the items ``ids`` with their annotations (folders' contents are the caller's)."""
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        db.execute(f"DELETE FROM annotations WHERE item_id IN ({marks})", chunk)
        db.execute(f"DELETE FROM items WHERE id IN ({marks})", chunk)
