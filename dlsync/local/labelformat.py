"""A sync root's annotation files read as annotation sets, whatever format they are in.

Dataloop JSON files go through ``annotations.load_annotation_file`` exactly as before. A YOLO or
Pascal VOC label file goes through its codec (``dlsync.formats``), and each annotation in it is
keyed by its *projection* (docs/architecture.md, "Annotation diffs", amendment for label
formats): the key is ``<format>/<width>x<height>/<projection hash>``, the format and the image's
displayed frame named in it. That key is the annotation's hash everywhere after this module: in
the diff, in the stamp dlsync posts (``metadata.user.dlsync.hash``), in state. So a platform
annotation is compared with a file line by the fields the format expresses, at the precision it
writes, and an attribute or a note added on the platform changes nothing. The set hash of a
format file covers the sorted keys only (the file has no ``metadata.user``).

``platform_key`` turns a platform annotation into the key it would have in the format and frame
a stamp names, so the annotation-diff code can tell whether dlsync's annotation was edited on
the platform without knowing the format of the files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from dlsync.errors import AnnotationFileError, ConfigError
from dlsync.formats.classes import ClassList, find_classes_file, load_classes
from dlsync.formats.codec import Annotation, Projector
from dlsync.formats.geometry import projection_hash
from dlsync.formats.images import ImageSize, image_size
from dlsync.local.annotations import (
    AnnotationSet,
    CanonicalAnnotation,
    load_annotation_file,
    set_hash_of,
)
from dlsync.local.layout import AnnotationLayout, LabelFormat
from dlsync.model import LocalEntry, ScanProblem

_KEY = re.compile(r"^(yolo|voc|coco)/([0-9]+)x([0-9]+)/([0-9a-f]{64})$")


class FileCodec(Projector, Protocol):
    """A format with one label file per item, as this module reads it."""

    def parse(self, path: Path, size: ImageSize) -> list[Annotation]:
        ...


def projector(name: str) -> Projector:
    """The projection of the format ``name`` (no files needed to project)."""
    from dlsync.formats.coco import CocoProjector
    from dlsync.formats.voc import VocCodec
    from dlsync.formats.yolo import YoloCodec

    if name == LabelFormat.YOLO:
        return YoloCodec(Path(), ClassList(Path(), {}, editable=False))
    if name == LabelFormat.VOC:
        return VocCodec(Path())
    return CocoProjector()


def annotation_key(name: str, size: ImageSize, projection: Mapping[str, Any]) -> str:
    """The hash of one annotation in a format: format, frame and projection hash."""
    return f"{name}/{size.width}x{size.height}/{projection_hash(projection)}"


def platform_key(stamped: str, remote: Mapping[str, Any]) -> str | None:
    """The key ``remote`` has in the format and frame ``stamped`` names; ``None`` when
    ``stamped`` is not a format key or the format cannot express ``remote``."""
    match = _KEY.match(stamped)
    if match is None:
        return None
    name, size = match[1], ImageSize(int(match[2]), int(match[3]))
    projection = projector(name).project(remote, size)
    return None if projection is None else annotation_key(name, size, projection)


def is_format_key(key: str) -> bool:
    return _KEY.match(key) is not None


def format_set(name: str, size: ImageSize, annotations: Iterable[Mapping[str, Any]],
               project: Projector | None = None) -> AnnotationSet:
    """The annotation set of ``annotations`` on an image of ``size`` in the format ``name``;
    what the format cannot express is left out. The bodies stay as given (what is posted)."""
    found = project or projector(name)
    kept = []
    for annotation in annotations:
        projection = found.project(annotation, size)
        if projection is None:
            continue
        canonical = json.dumps(dict(annotation), sort_keys=True, separators=(",", ":"))
        kept.append(CanonicalAnnotation(annotation, canonical,
                                        annotation_key(name, size, projection)))
    return AnnotationSet(tuple(kept), {}, set_hash_of(kept, {}))


def format_owned(name: str, size: ImageSize, annotations: Sequence[Mapping[str, Any]]
                 ) -> tuple[AnnotationSet, tuple[tuple[str, str], ...]]:
    """The set of platform ``annotations`` in the format ``name``, and (key, annotation id)
    of each expressible one, in the order given."""
    found = projector(name)
    parsed = format_set(name, size, annotations, found)
    owned = []
    for annotation in annotations:
        projection = found.project(annotation, size)
        if projection is not None:
            owned.append((annotation_key(name, size, projection), str(annotation.get("id"))))
    return parsed, tuple(owned)


class LabelReader:
    """Reads the annotation files of one sync root into annotation sets."""

    def __init__(self, layout: AnnotationLayout, root: Path,
                 codec: FileCodec | None = None) -> None:
        self.layout = layout
        self.root = root
        self.codec = codec

    @classmethod
    def open(cls, layout: AnnotationLayout, root: Path,
             classes: Path | None = None) -> LabelReader:
        """The reader of ``layout``'s format (a YOLO classes file is read now)."""
        if layout.format is LabelFormat.YOLO:
            return cls(layout, root, open_yolo(layout, classes))
        if layout.format is LabelFormat.COCO:
            from dlsync.local.cocofile import CocoReader

            return CocoReader(layout, root)
        if layout.format is LabelFormat.VOC:
            from dlsync.formats.voc import VocCodec

            assert layout.directory is not None
            return cls(layout, root, VocCodec(layout.directory))
        return cls(layout, root)

    @contextmanager
    def walking(self) -> Iterator[None]:
        """What a walk needs open while it reads (COCO: the file's index)."""
        yield

    def paired(self, entries: Iterable[LocalEntry | ScanProblem]
               ) -> Iterator[LocalEntry | ScanProblem]:
        """The scanned ``entries`` paired with their annotations (COCO: per-image signals)."""
        return iter(entries)

    @property
    def name(self) -> str:
        return self.layout.format.value

    def read(self, entry: LocalEntry) -> AnnotationSet:
        """The annotation set of ``entry``'s annotation file (``AnnotationFileError`` naming
        the file, and the line or element, when it is unusable)."""
        assert entry.annotation_path is not None
        return self.read_file(Path(entry.annotation_path), entry.name_on_disk or entry.path)

    def read_file(self, path: Path, rel: str) -> AnnotationSet:
        """The annotation set of the file at ``path`` for the item ``rel`` (on disk)."""
        if self.codec is None:
            return load_annotation_file(path)
        size = self.size_of(rel)
        return format_set(self.name, size, self.codec.parse(path, size), self.codec)

    def size_of(self, rel: str) -> ImageSize:
        """The displayed size of the image ``rel``, from its header."""
        return image_size(self.root / rel)

    def set_hash(self, rel: str) -> Any:
        """A function giving the set hash of a label file of the item ``rel``."""
        return lambda path: self.read_file(path, rel).set_hash


def reader_for(layout: AnnotationLayout, root: Path,
               classes: Path | None = None) -> LabelReader | None:
    """The reader of a pair's label format; ``None`` for Dataloop JSON (read as it always was).
    A YOLO classes file that is missing or unusable is a ``ConfigError`` naming ``classes``."""
    if layout.is_dataloop:
        return None
    try:
        return LabelReader.open(layout, root, classes)
    except AnnotationFileError as exc:
        raise ConfigError(str(exc), key="classes") from exc


def open_yolo(layout: AnnotationLayout, classes: Path | None, *,
              create: bool = False) -> Any:
    """The YOLO codec of ``layout``; with ``create``, a missing classes file is started empty
    (``classes`` or ``DIR/classes.txt``) rather than an error."""
    from dlsync.formats.yolo import YoloCodec

    assert layout.directory is not None
    try:
        path = classes or find_classes_file(layout.directory)
    except AnnotationFileError:
        if not create:
            raise
        path = layout.directory / "classes.txt"
    if create and not path.exists():
        return YoloCodec(layout.directory, ClassList(path, {}, editable=True))
    return YoloCodec(layout.directory, load_classes(path))
