"""The annotation file a pull writes for one item, built from what the platform lists.

The file is the dtlpy JSON layout, ``{"annotations": [...], "metadata": {"user": ...}}``: each
annotation as the platform lists it (ids, creator, timestamps kept, URL fields dropped), ordered
by id, and the item's ``metadata.user`` without dlsync's fingerprint key. The push side's
canonical form drops the server-owned fields, so the written file hashes to exactly the
platform's set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlsync.constants import FINGERPRINT_KEY, URL_FIELDS
from dlsync.local.annotations import (
    AnnotationSet,
    annotation_set,
    dump_annotation_file,
    parse_annotations,
)
from dlsync.pull.durable import Written
from dlsync.pull.files import FileStat, stat_of, write_atomically, write_unsynced
from dlsync.pull.rules import SetView
from dlsync.pull.source import RemoteEntry

EMPTY_SET_HASH = parse_annotations(dump_annotation_file([]), "<empty>").set_hash
"""The set hash of a file with no annotations and no metadata."""



def view(set_hash: str | None) -> SetView:
    """The rules' view of a set hash (``None``: no annotation file)."""
    return SetView(set_hash, set_hash is None or set_hash == EMPTY_SET_HASH)


@dataclass(frozen=True, slots=True)
class RemoteDocument:
    """The annotation file a pull would write for one item, parsed as the push reads it.

    A Dataloop JSON file's bytes are made only when it is written (``data``): deciding needs
    only the set, and most items of a pull are unchanged. A YOLO, VOC or COCO file is written by
    ``writer`` (its codec; for COCO it returns the image's signal, ``local.cocofile``, instead of
    the file's stat), and ``read_hash`` gives the item's set hash in such a file on disk.
    """

    content: tuple[tuple[dict[str, Any], ...], dict[str, Any]]   # annotations, metadata.user
    parsed: AnnotationSet
    owned: tuple[tuple[str, str], ...]     # (canonical hash, annotation id), file order
    writer: Callable[[Path], FileStat | None] | None = field(default=None, compare=False)
    read_hash: Callable[[Path], str] | None = field(default=None, compare=False)

    @property
    def data(self) -> bytes:
        """The Dataloop JSON file's bytes."""
        written, user = self.content
        return dump_annotation_file(written, {"user": user} if user else {})

    def save(self, target: Path) -> FileStat:
        """Write the file at ``target`` atomically; its new stat."""
        if self.writer is None:
            return write_atomically(target, self.data)
        target.parent.mkdir(parents=True, exist_ok=True)
        return self.writer(target) or stat_of(target)


    def write_unsynced(self, target: Path) -> tuple[Written, FileStat]:
        """The Dataloop JSON file written beside ``target``, for ``DurableBatches`` to fsync
        and rename; the stat it will have (a codec's file is written by ``save``)."""
        assert self.writer is None
        return write_unsynced(target, self.data)


NO_CONTENT: tuple[tuple[dict[str, Any], ...], dict[str, Any]] = ((), {})
"""The content of a document a codec writes (it has no Dataloop JSON bytes of its own)."""


def remote_document(entry: RemoteEntry) -> RemoteDocument:
    """The file content for ``entry``; ``AnnotationFileError`` names the item when unusable."""
    notes = sorted(entry.annotations, key=lambda a: str(a.get("id")))
    written = tuple({k: v for k, v in note.items() if k not in URL_FIELDS} for note in notes)
    user = dict((entry.item.get("metadata") or {}).get("user") or {})
    user.pop(FINGERPRINT_KEY, None)
    parsed = annotation_set(written, user, f"platform annotations of {entry.path} "
                                           f"(item {entry.item['id']})")
    owned = tuple((one.hash, str(note.get("id")))
                  for one, note in zip(parsed.annotations, notes, strict=True))
    return RemoteDocument((written, user), parsed, owned)
