"""One COCO file for a whole sync root, read as per-item annotation sets (docs/formats.md).

A COCO file serves every item, so its stat cannot say which item changed. While the planner
walks, the file is streamed once into a ``CocoIndex`` (bounded memory, an on-disk SQLite
index); each scanned item is then given, in the fields the ladder compares for an annotation
file, its image's *signal*: ``annotation_size`` 0 and ``annotation_mtime_ns`` the first 60 bits
of the image's content hash (``CocoIndex.content_hash``: its entry, its annotation entries and
their category names). The change-detection ladder is untouched: an item whose entries did not
change keeps its signal and is not read again; one whose entries changed is read and diffed.
An item whose image is not in the file has no annotation file.

The index lives for one walk, in the planner's thread (SQLite connections stay in the thread
that opened them); ``read`` outside a walk is an error the item reports, retried next run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from dlsync.errors import AnnotationFileError
from dlsync.local.annotations import AnnotationSet
from dlsync.local.labelformat import LabelReader, format_set
from dlsync.model import LocalEntry, ScanProblem

if TYPE_CHECKING:
    from dlsync.formats.coco_index import CocoIndex

SIGNAL_HEX = 15     # 60 bits: a positive SQLite integer


def signal_of(content_hash: str) -> int:
    """The ``annotation_mtime_ns`` that stands for an image's COCO content hash."""
    return int(content_hash[:SIGNAL_HEX], 16)


class CocoReader(LabelReader):
    """Reads one sync root's COCO file, image by image, through its streamed index."""

    index: CocoIndex | None = None

    @property
    def path(self) -> Path:
        assert self.layout.directory is not None
        return self.layout.directory

    @contextmanager
    def walking(self) -> Iterator[None]:
        """The index of the COCO file (when there is one) for the length of a walk."""
        from dlsync.formats.coco_index import CocoIndex

        if not self.path.is_file():
            yield
            return
        self.index = CocoIndex.build(self.path)
        try:
            yield
        finally:
            self.index.close()
            self.index = None

    def paired(self, entries: Iterable[LocalEntry | ScanProblem]
               ) -> Iterator[LocalEntry | ScanProblem]:
        """``entries`` with each image's COCO signal in its annotation fields."""
        for entry in entries:
            if isinstance(entry, LocalEntry) and self.index is not None:
                image = self.index.image(entry.path)
                if image is not None:
                    entry = replace(entry, annotation_path=str(self.path), annotation_size=0,
                                    annotation_mtime_ns=signal_of(
                                        self.index.content_hash(image)))
            yield entry

    def read(self, entry: LocalEntry) -> AnnotationSet:
        return self.read_file(self.path, entry.path)

    def read_file(self, path: Path, rel: str) -> AnnotationSet:
        """The set of the image ``rel`` in the COCO file at ``path`` (the walk's index when it
        is the sync root's file, a fresh one otherwise: a conflict copy)."""
        if path == self.path and self.index is not None:
            return self.read_with(self.index, rel)
        if path == self.path:
            raise AnnotationFileError(str(path), "the COCO file is only read during a scan; "
                                      "retried next run")
        from dlsync.formats.coco_index import CocoIndex

        with CocoIndex.build(path) as index:
            return self.read_with(index, rel)

    def read_with(self, index: CocoIndex, rel: str) -> AnnotationSet:
        """The set of the image ``rel`` in ``index`` (empty when the image is not there)."""
        image = index.image(rel)
        if image is None:
            return format_set(self.name, self.size_of(rel), ())
        return format_set(self.name, image.size, index.annotations(image))
