"""Wire JSON of the Dataloop API as dlsync reads it (dataloop-api.md), and small result values.

The TypedDicts list the fields dlsync uses; the remote sends more, and those pass through.
Only ``id`` is checked on arrival (``dlsync.remote.replies``); the rest is read with ``.get``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Required, TypedDict


class ProjectJson(TypedDict, total=False):
    """A project (dataloop-api.md section 2)."""

    id: Required[str]
    name: str
    createdAt: str
    creator: str


class DatasetJson(TypedDict, total=False):
    """A dataset (section 3)."""

    id: Required[str]
    name: str
    projects: list[str]
    itemsCount: int
    annotationsCount: int


class ItemJson(TypedDict, total=False):
    """An item: a file or a folder (``type: "dir"``) (section 4.7)."""

    id: Required[str]
    datasetId: str
    filename: str
    name: str
    dir: str
    type: str
    hidden: bool
    metadata: dict[str, Any]
    createdAt: str
    updatedAt: str
    annotationsCount: int
    stream: str


class AnnotationJson(TypedDict, total=False):
    """An annotation (section 5). Sent without ``id``; returned with one."""

    id: str
    itemId: str
    datasetId: str
    type: str
    label: str
    coordinates: Any
    attributes: Any
    metadata: dict[str, Any]
    source: str
    creator: str
    createdAt: str
    updatedAt: str
    updatedBy: str


class PageJson(TypedDict, total=False):
    """One page of a ``POST /datasets/{id}/query`` listing (section 4.2)."""

    items: Required[list[dict[str, Any]]]
    hasNextPage: Required[bool]
    totalItemsCount: int
    totalPagesCount: int


class DirectoryNodeJson(TypedDict, total=False):
    """One node of ``GET /datasets/{id}/directoryTree``: a folder item and its sub-folders."""

    value: Required[ItemJson]
    children: list[DirectoryNodeJson]


class UploadOp(enum.StrEnum):
    """What an upload did, from the ``x-item-op`` reply header."""

    CREATED = "created"
    OVERWRITE = "overwrite"
    EXISTING = "existing"  # mode=skip found the item already there (any other header value)

    @classmethod
    def from_header(cls, value: str | None) -> UploadOp:
        """The op for an ``x-item-op`` header value (missing or unknown means existing)."""
        try:
            return cls(value or "")
        except ValueError:
            return cls.EXISTING


@dataclass(frozen=True, slots=True)
class CheckedFile:
    """A local file to upload and the size its caller has just seen it have; ``content``, when
    given, is the file's bytes as the caller read them, sent instead of reading the file."""

    path: str
    size: int
    content: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class UploadResult:
    """The item an upload produced or found, and what the remote did."""

    item: ItemJson
    op: UploadOp
    size: int
