"""The COCO file a pull rewrites: one file for the whole source, image by image.

The file is indexed once (``CocoIndex``, streamed, bounded memory) when the pull first needs
it. An item's local set is its image's entries in that index; a new or changed platform set is
written by ``coco_write.rewrite``, atomically, keeping every other image, category and
annotation entry (and their ids) as it was and appending new ids after the largest. The index
is rebuilt after each rewrite, and what state records for the item is the image's signal
(``local.cocofile.signal_of``), the value the next mirror's scan gives it, so the mirror sends
nothing. Should the file change on disk while the pull runs, the rewrite is refused for that
item (retried next pull) rather than losing the edit.

A conflict writes ``<file>.conflict-<UTC>.json`` beside the file: a COCO file holding just the
conflicting images of this pull (each conflict of the same second joins the same copy).

Every use of the index goes through one lock: the pull's items run concurrently, in tasks and in
worker threads.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dlsync.constants import URL_FIELDS
from dlsync.errors import AnnotationFileError
from dlsync.formats.coco_index import CocoIndex
from dlsync.formats.coco_write import rewrite, write_subset
from dlsync.formats.images import ImageSize
from dlsync.local.cocofile import CocoReader, signal_of
from dlsync.local.labelformat import format_owned
from dlsync.local.layout import AnnotationLayout
from dlsync.pull.document import NO_CONTENT, RemoteDocument
from dlsync.pull.files import FileStat
from dlsync.pull.formatwrite import FormatFiles
from dlsync.pull.source import RemoteEntry

EMPTY_COCO = '{"images": [], "annotations": [], "categories": []}\n'
Image = tuple[str, ImageSize, Sequence[Mapping[str, Any]]]


class CocoFiles(FormatFiles):
    """How a pull reads and rewrites one pair's COCO file."""

    def __init__(self, reader: CocoReader) -> None:
        self.reader = reader
        self.coco = reader
        self._lock = threading.Lock()
        self._index: CocoIndex | None = None
        self._indexed: tuple[int, int] | None = None     # the file's (size, mtime) indexed
        self._conflicts: dict[Path, list[Image]] = {}

    @classmethod
    def open_coco(cls, layout: AnnotationLayout, root: Path) -> CocoFiles:
        return cls(CocoReader(layout, root))

    @property
    def path(self) -> Path:
        return self.coco.path

    def document(self, entry: RemoteEntry) -> RemoteDocument:
        notes = sorted(entry.annotations, key=lambda a: str(a.get("id")))
        written = [{k: v for k, v in note.items() if k not in URL_FIELDS} for note in notes]
        rel = entry.path
        with self._lock:
            index = self._ready()
            image = index.image(rel) if index is not None else None
        size = image.size if image is not None else self.reader.size_of(rel)
        parsed, owned = format_owned(self.reader.name, size, written)

        def write(target: Path) -> FileStat | None:
            with self._lock:
                if target == self.path:
                    return self._rewrite(rel, written)
                self._conflict(target, (rel, size, written))
                return None

        return RemoteDocument(NO_CONTENT, parsed, owned, write,
                              lambda path: self._set_hash(path, rel))

    def current(self, rel: str) -> Path | None:
        with self._lock:
            index = self._ready()
            return self.path if index is not None and index.image(rel) is not None else None

    def new_file(self, rel: str) -> Path | None:
        return self.path

    def close(self) -> None:
        with self._lock:
            if self._index is not None:
                self._index.close()
                self._index = None

    def _ready(self) -> CocoIndex | None:
        """The index of the file as it is now (built when first needed; ``None``: no file)."""
        if self._index is None and self.path.is_file():
            self._build()
        return self._index

    def _build(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None
        stat = os.stat(self.path)
        self._index = CocoIndex.build(self.path)
        self._indexed = (stat.st_size, stat.st_mtime_ns)

    def _set_hash(self, path: Path, rel: str) -> str:
        if path != self.path:
            return self.coco.read_file(path, rel).set_hash
        with self._lock:
            index = self._ready()
            if index is None:
                raise AnnotationFileError(str(path), "the COCO file is gone")
            return self.coco.read_with(index, rel).set_hash

    def _rewrite(self, rel: str, annotations: Sequence[Mapping[str, Any]]) -> FileStat:
        """Replace the entries of ``rel`` in the file; the image's signal afterwards."""
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(EMPTY_COCO, encoding="utf-8")
        index = self._ready()
        assert index is not None
        stat = os.stat(self.path)
        if (stat.st_size, stat.st_mtime_ns) != self._indexed:
            self._build()
            raise AnnotationFileError(str(self.path), "changed while the pull read it; not "
                                      "rewritten for this item, retried next pull")
        rewrite(index, {rel: annotations}, self.reader.root)
        self._build()
        assert self._index is not None
        image = self._index.image(rel)
        assert image is not None
        return FileStat(0, signal_of(self._index.content_hash(image)))

    def _conflict(self, target: Path, image: Image) -> None:
        images = self._conflicts.setdefault(target, [])
        images[:] = [i for i in images if i[0] != image[0]] + [image]
        write_subset(target, images)
