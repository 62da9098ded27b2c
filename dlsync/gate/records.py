"""Rows to wire JSON (without URLs), diff merging, and the field maps DQL compiles against."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from dlsync.gate.dql import Join, JsonArray

ITEM_FIELDS = {
    "id": "id", "datasetId": "dataset_id", "filename": "filename", "dir": "dir", "name": "name",
    "type": "type", "hidden": "hidden", "createdAt": "created_at", "updatedAt": "updated_at",
    "annotationsCount": "annotations_count", "annotated": "(annotations_count > 0)",
    "metadata.system.refs": JsonArray("$.metadata.system.refs"),
}
ANNOTATION_FIELDS = {
    "id": "id", "annotationId": "id", "itemId": "item_id", "datasetId": "dataset_id",
    "type": "type", "label": "label", "createdAt": "created_at", "updatedAt": "updated_at",
}
DATASET_FIELDS = {"id": "id", "name": "name", "createdAt": "created_at"}

# What a DQL ``join`` may refer to, per queried resource.
ITEM_JOINS = {"annotations": Join(
    ANNOTATION_FIELDS, "id IN (SELECT item_id FROM annotations WHERE {where})")}
ANNOTATION_JOINS = {"items": Join(
    ITEM_FIELDS, "item_id IN (SELECT id FROM items WHERE {where})")}

# Item keys the server owns: a PATCH cannot set them (a null for them is ignored).
ITEM_OWNED = frozenset({
    "id", "datasetId", "dir", "name", "type", "createdAt", "updatedAt", "updatedBy", "creator",
    "annotated", "annotationsCount", "url", "stream", "thumbnail", "dataset", "annotations",
    "projectId",
})
ANNOTATION_OWNED = frozenset({
    "id", "itemId", "datasetId", "creator", "createdAt", "updatedAt", "updatedBy", "url", "item",
    "dataset", "hash",
})


@dataclass(frozen=True)
class Page:
    """One page of a query: the entities and the figures of the whole filtered query."""

    entities: list[dict[str, Any]]
    total: int
    page_size: int
    has_next: bool

    def to_json(self, entities: list[dict[str, Any]]) -> dict[str, Any]:
        """The list response body with ``entities`` (the rendered ``self.entities``)."""
        return {
            "items": entities, "totalItemsCount": self.total,
            "totalPagesCount": -(-self.total // self.page_size), "hasNextPage": self.has_next,
        }


def now_iso() -> str:
    """The current UTC time as Dataloop writes it: ``2024-01-01T00:00:00.000Z``."""
    seconds = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{stamp}.{int(seconds % 1 * 1000):03d}Z"


def merge_diff(target: dict[str, Any], diff: dict[str, Any]) -> None:
    """Apply a DictDiffer ``diff``: nested objects merge, null removes, unknown nulls no-op."""
    for key, value in diff.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge_diff(target[key], value)
        else:
            target[key] = value


def item_json(row: sqlite3.Row) -> dict[str, Any]:
    """The item JSON of an ``items`` row."""
    doc: dict[str, Any] = json.loads(row["doc"])
    count = row["annotations_count"]
    doc.update(
        id=row["id"], datasetId=row["dataset_id"], filename=row["filename"], dir=row["dir"],
        name=row["name"], type=row["type"], hidden=bool(row["hidden"]),
        createdAt=row["created_at"], updatedAt=row["updated_at"], annotationsCount=count,
        annotated=count > 0,
    )
    return doc


def annotation_json(row: sqlite3.Row) -> dict[str, Any]:
    """The annotation JSON of an ``annotations`` row."""
    doc: dict[str, Any] = json.loads(row["doc"])
    return doc


def dataset_json(row: sqlite3.Row) -> dict[str, Any]:
    """The dataset JSON of a ``datasets`` row (counts are added by the store)."""
    doc: dict[str, Any] = json.loads(row["doc"])
    doc.update(id=row["id"], name=row["name"], projects=[row["project_id"]],
               createdAt=row["created_at"])
    return doc


def project_json(row: sqlite3.Row) -> dict[str, Any]:
    """The project JSON of a ``projects`` row."""
    doc: dict[str, Any] = json.loads(row["doc"])
    doc.update(id=row["id"], name=row["name"], createdAt=row["created_at"])
    return doc
