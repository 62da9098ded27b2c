"""The JSON documents of entities: built from requests, patched by diffs, checked.

Pure functions over dicts; the store decides when to call them and writes what they return.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from dlsync.gate import records
from dlsync.gate.paths import split_path
from dlsync.gate.refusal import bad_request


@dataclass(frozen=True)
class Blob:
    """Stored content an item points at."""

    sha256: str
    size: int
    mimetype: str
    shebang: dict[str, Any] | None = None  # what a shebang file says of itself (``shebang.py``)
    dimensions: tuple[int, int] | None = None  # an image's width and height (``imagesize.py``)


@dataclass(frozen=True)
class FileUpload:
    """One file as an upload names it: where it goes, its content, and its form fields."""

    path: str
    blob: Blob
    metadata: dict[str, Any] | None = None   # the ``metadata`` form field, if sent
    description: str | None = None


def clean_name(name: Any, what: str) -> str:
    """``name`` if it is a usable project or dataset name; Refusal (400) otherwise."""
    if not isinstance(name, str) or not name.strip():
        raise bad_request(f"{what} must be a non-empty string, got {name!r}")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise bad_request(f"{what} {name!r} contains a control character")
    return name


def file_doc(existing: sqlite3.Row | None, upload: FileUpload, user: str) -> dict[str, Any]:
    """The doc of an uploaded file: kept fields of ``existing``, form metadata, system metadata."""
    doc: dict[str, Any] = json.loads(existing["doc"]) if existing is not None else {
        "creator": user, "metadata": {}}
    if upload.metadata is not None:
        doc["metadata"] = {k: v for k, v in upload.metadata.items() if k != "system"}
    if upload.description is not None:
        doc["description"] = upload.description
    blob = upload.blob
    doc["metadata"]["system"] = {
        "size": blob.size, "mimetype": blob.mimetype, "originalname": split_path(upload.path)[1],
        "encoding": "7bit", "refs": [],
    }
    if blob.shebang is not None:
        doc["metadata"]["system"]["shebang"] = blob.shebang
    if blob.dimensions is not None:
        doc["metadata"]["system"]["width"], doc["metadata"]["system"]["height"] = \
            blob.dimensions
    doc["updatedBy"] = user
    return doc


def patch_item_doc(doc: dict[str, Any], diff: dict[str, Any], *, system: bool, user: str) -> None:
    """Apply an item diff in place; system size and mimetype never change."""
    owned = records.ITEM_OWNED | {"filename", "hidden"}
    rest = {k: v for k, v in diff.items() if k not in owned}
    metadata = rest.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise bad_request(f"item 'metadata' must be a JSON object, got {metadata!r}")
    if isinstance(metadata, dict):
        kept = doc.get("metadata", {}).get("system", {})
        if not system:
            rest["metadata"] = {k: v for k, v in metadata.items() if k != "system"}
        records.merge_diff(doc, rest)
        doc.setdefault("metadata", {}).setdefault("system", {}).update(
            {k: kept[k] for k in ("size", "mimetype") if k in kept})
    else:
        records.merge_diff(doc, {k: v for k, v in rest.items() if k != "metadata"})
    doc["updatedBy"] = user


def check_annotation(doc: dict[str, Any], where: Any) -> None:
    """Refuse (400) an annotation without a string type, or with a bad label or metadata."""
    if not isinstance(doc.get("type"), str) or not doc["type"]:
        raise bad_request(f"annotation {where}: 'type' must be a non-empty string")
    if doc.get("label") is not None and not isinstance(doc["label"], str):
        raise bad_request(f"annotation {where}: 'label' must be a string")
    if not isinstance(doc.get("metadata", {}), dict):
        raise bad_request(f"annotation {where}: 'metadata' must be a JSON object")


def annotation_doc(entry: dict[str, Any], item: sqlite3.Row, user: str,
                    index: int) -> dict[str, Any]:
    """A new annotation's doc for ``item``: sent fields plus the server-owned ones."""
    doc = {k: v for k, v in entry.items() if k not in records.ANNOTATION_OWNED and v is not None}
    check_annotation(doc, f"#{index} for item {item['id']}")
    now = records.now_iso()
    doc.setdefault("metadata", {})
    doc.update(itemId=item["id"], datasetId=item["dataset_id"], creator=user, createdAt=now,
               updatedAt=now, updatedBy=user)
    return doc
