"""The label file a pull writes in YOLO or Pascal VOC, built from the platform's annotations.

The platform's annotations of an item (ordered by id, as for Dataloop JSON) are projected in
the pair's format at the image's displayed size (read from its header): what the format
expresses is written by its codec (atomically), the rest is left out of the file and stays on
the platform untouched. The set hash and the ``(key, id)`` pairs recorded as dlsync's own are
taken over the same projections (``local.labelformat``), so the file read back by a mirror
equals what was recorded and the mirror sends nothing.

YOLO: class ids come from the classes file; a label missing from a text classes file is
appended to it, one missing from a ``data.yaml`` fails the item with an error naming the labels
(``formats.classes``). Writes of one pair are serialised, since they may append to that file.
VOC: the ``size`` element is filled from the image header.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dlsync.constants import URL_FIELDS
from dlsync.errors import AnnotationFileError, ConfigError
from dlsync.formats.images import ImageSize
from dlsync.local.labelformat import LabelReader, format_owned, open_yolo
from dlsync.local.layout import AnnotationLayout, LabelFormat
from dlsync.model import RelPath
from dlsync.pull.document import NO_CONTENT, RemoteDocument
from dlsync.pull.files import find_annotation_file, new_annotation_file
from dlsync.pull.source import RemoteEntry

Writer = Callable[[Path, str, ImageSize, Sequence[Mapping[str, Any]]], None]


class FormatFiles:
    """How a pull builds, writes and reads one pair's YOLO or VOC label files."""

    def __init__(self, reader: LabelReader, write: Writer) -> None:
        self.reader = reader
        self._write = write
        self._lock = threading.Lock()

    @classmethod
    def open(cls, layout: AnnotationLayout, root: Path,
             classes: Path | None = None) -> FormatFiles:
        """The files of ``layout``'s format; a YOLO classes file is started when missing."""
        if layout.format is LabelFormat.COCO:
            from dlsync.pull.cocowrite import CocoFiles

            return CocoFiles.open_coco(layout, root)
        try:
            if layout.format is LabelFormat.YOLO:
                codec = open_yolo(layout, classes, create=True)
                return cls(LabelReader(layout, root, codec),
                           lambda path, rel, size, notes: codec.write_to(path, size, notes))
        except AnnotationFileError as exc:
            raise ConfigError(str(exc), key="classes") from exc
        reader = LabelReader.open(layout, root)
        voc: Any = reader.codec
        return cls(reader, lambda path, rel, size, notes: voc.write_to(path, rel, size, notes))

    def document(self, entry: RemoteEntry) -> RemoteDocument:
        """The label file of ``entry`` as the platform's annotations make it."""
        notes = sorted(entry.annotations, key=lambda a: str(a.get("id")))
        written = [{k: v for k, v in note.items() if k not in URL_FIELDS} for note in notes]
        size = self.reader.size_of(entry.path)
        parsed, owned = format_owned(self.reader.name, size, written)

        def write(target: Path) -> None:
            with self._lock:
                self._write(target, entry.path, size, written)
            return None

        return RemoteDocument(NO_CONTENT, parsed, owned, write, self.reader.set_hash(entry.path))

    def current(self, rel: str) -> Path | None:
        """The label file of the item ``rel``, when there is one."""
        return find_annotation_file(self.reader.root, self.reader.layout, RelPath(rel))

    def new_file(self, rel: str) -> Path | None:
        """Where a pull creates the label file of ``rel``."""
        return new_annotation_file(self.reader.root, self.reader.layout, RelPath(rel))

    def close(self) -> None:
        """Release what the pull held open (COCO: the file's index)."""
