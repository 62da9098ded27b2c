"""YOLO label files: one ``.txt`` per image, one object per line, normalised coordinates.

Layout: the item ``a/b.jpg`` of a source root pairs with ``DIR/a/b.txt`` (Ultralytics keeps
``dataset/images/...`` and ``dataset/labels/...``; the images folder is the source root, the
labels folder ``DIR``). Class names come from a classes file (``classes``).

Lines (coordinates are fractions of the displayed image width and height, EXIF orientation
applied, so they are in 0..1):

    c cx cy w h               a box: centre, width and height           → Dataloop ``box``
    c x1 y1 x2 y2 … xn yn     a polygon of three or more points         → Dataloop ``segment``

An empty file means "no objects". A pose dataset (``kpt_shape`` in ``data.yaml``) is refused
rather than misread as polygons. Errors name the file and the line: a malformed line, an unknown
class id, a coordinate outside 0..1, an image whose header gives no size.

**Projection** (what YOLO can express, at the precision it writes)::

    box      {"type": "box", "label": L, "geometry": [cx, cy, w, h]}
    segment  {"type": "segment", "label": L, "geometry": [x1, y1, ..., xn, yn]}

Geometry is in millionths of the image width (x) and height (y), the six decimals YOLO files are
written with. Box edges are clamped to the image, then centre and size are rounded, and the size
is shrunk by at most one millionth where rounding would push an edge out of the image, so a
written box reads back to the same projection. A polygon is one ring of three or more points,
each clamped and rounded. Everything else (attributes, metadata, rotated boxes, polygons with
holes, other types) projects to ``None``: YOLO cannot say it, so it is never written and never
counts as a difference. The geometry a file and the platform agree on differs by at most half a
millionth of the image size: under ``GEOMETRY_TOLERANCE_PX`` for images up to a million pixels
wide.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from dlsync import constants
from dlsync.bounded import read_up_to
from dlsync.errors import AnnotationFileError
from dlsync.formats import classes as classfile
from dlsync.formats import geometry
from dlsync.formats.codec import Annotation, WriteResult
from dlsync.formats.images import ImageSize, image_size
from dlsync.local.atomic import write_text

SCALE = 1_000_000          # six decimals
SUFFIX = ".txt"
BOX_TOKENS = 5


class YoloCodec:
    """Reads and writes the YOLO label files under ``labels_dir`` with the given class names."""

    name = "yolo"

    def __init__(self, labels_dir: Path, classes: classfile.ClassList) -> None:
        if classes.pose:
            raise AnnotationFileError(str(classes.path), "a pose dataset (kpt_shape) is not "
                                      "supported; its keypoint lines would be misread")
        self.labels_dir = labels_dir
        self.classes = classes

    @classmethod
    def open(cls, labels_dir: Path, classes_file: Path | None = None) -> YoloCodec:
        """A codec for ``labels_dir``, its classes from ``classes_file`` or the default places."""
        path = classes_file or classfile.find_classes_file(labels_dir)
        return cls(labels_dir, classfile.load_classes(path))

    def label_path(self, rel_path: str) -> Path:
        return self.labels_dir / Path(rel_path).with_suffix(SUFFIX)

    def read(self, source_root: Path, rel_path: str) -> list[Annotation]:
        return self.parse(self.label_path(rel_path), image_size(source_root / rel_path))

    def parse(self, path: Path, size: ImageSize) -> list[Annotation]:
        """The annotations of the label file at ``path``, for an image of ``size``."""
        text = _read_text(path)
        return [self._annotation(tokens, size, f"{path}:{number}")
                for number, tokens in _lines(text, path)]

    def write(self, source_root: Path, rel_path: str,
              annotations: Sequence[Mapping[str, Any]]) -> WriteResult:
        return self.write_to(self.label_path(rel_path), image_size(source_root / rel_path),
                             annotations)

    def write_to(self, path: Path, size: ImageSize,
                 annotations: Sequence[Mapping[str, Any]]) -> WriteResult:
        """Replace the file at ``path`` with the expressible ``annotations`` of an image of
        ``size`` (new labels appended to the classes file first)."""
        found = [(i, self.project(a, size)) for i, a in enumerate(annotations)]
        kept = [p for _, p in found if p is not None]
        self.classes = classfile.add_names(self.classes, _names(kept))
        write_text(path, "".join(self._line(p) + "\n" for p in kept))
        return WriteResult(path, len(kept), tuple(i for i, p in found if p is None))

    def project(self, annotation: Mapping[str, Any], size: ImageSize) -> Annotation | None:
        label = geometry.label_of(annotation)
        box, ring = geometry.box_of(annotation), geometry.ring_of(annotation)
        if label is None or (box is None and ring is None):
            return None
        if box is not None:
            return {"type": "box", "label": label, "geometry": _box_units(box, size)}
        assert ring is not None
        units = [_unit(v / extent) for x, y in ring for v, extent in
                 ((x, size.width), (y, size.height))]
        return {"type": "segment", "label": label, "geometry": units}

    def _annotation(self, tokens: list[str], size: ImageSize, where: str) -> Annotation:
        label = self._label(tokens[0], where)
        values = [_fraction(t, where) for t in tokens[1:]]
        if len(tokens) == BOX_TOKENS:
            cx, cy, w, h = values
            box = ((cx - w / 2) * size.width, (cy - h / 2) * size.height,
                   (cx + w / 2) * size.width, (cy + h / 2) * size.height)
            return geometry.box_annotation(label, box)
        points = zip(values[0::2], values[1::2], strict=True)
        return geometry.polygon_annotation(
            label, [(x * size.width, y * size.height) for x, y in points])

    def _label(self, token: str, where: str) -> str:
        try:
            class_id = int(token)
        except ValueError:
            raise AnnotationFileError(where, f"class id {token!r} is not an integer") from None
        name = self.classes.name_of(class_id)
        if name is None:
            raise AnnotationFileError(where, f"class id {class_id} is not in "
                                      f"{self.classes.path}")
        return name

    def _line(self, projection: Mapping[str, Any]) -> str:
        class_id = self.classes.id_of(projection["label"])
        return " ".join([str(class_id), *(_decimal(u) for u in projection["geometry"])])


def _read_text(path: Path) -> str:
    try:
        with open(path, "rb", buffering=0) as file:
            data = read_up_to(file.fileno(), constants.ANNOTATION_MAX_BYTES)
    except OSError as exc:
        raise AnnotationFileError(str(path), f"cannot read: {exc.strerror}") from exc
    if len(data) > constants.ANNOTATION_MAX_BYTES:
        raise AnnotationFileError(str(path), f"over the limit of "
                                  f"{constants.ANNOTATION_MAX_BYTES} bytes; not read")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AnnotationFileError(str(path), f"not UTF-8 text (byte {exc.start})") from exc


def _lines(text: str, path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number from 1, tokens) of each non-blank line; a wrong token count is an error."""
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) != BOX_TOKENS and (len(tokens) < 7 or len(tokens) % 2 == 0):
            raise AnnotationFileError(
                f"{path}:{number}", f"{len(tokens) - 1} numbers after the class id; expected "
                "4 (cx cy w h) or an even number of 6 or more (x1 y1 ... xn yn)")
        yield number, tokens


def _fraction(token: str, where: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise AnnotationFileError(where, f"{token!r} is not a number") from None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise AnnotationFileError(where, f"coordinate {token} is outside 0..1")
    return value


def _unit(fraction: float) -> int:
    """A fraction of the image clamped to 0..1, in millionths."""
    return round(geometry.clamp(fraction, 0.0, 1.0) * SCALE)


def _box_units(box: geometry.Box, size: ImageSize) -> list[int]:
    left, top, right, bottom = box
    cx, w = _axis(left / size.width, right / size.width)
    cy, h = _axis(top / size.height, bottom / size.height)
    return [cx, cy, w, h]


def _axis(low: float, high: float) -> tuple[int, int]:
    """Centre and extent in millionths, the extent cut so that both edges stay in the image."""
    low, high = geometry.clamp(low, 0.0, 1.0), geometry.clamp(high, 0.0, 1.0)
    centre = round((low + high) / 2 * SCALE)
    extent = round((high - low) * SCALE)
    return centre, min(extent, 2 * centre, 2 * (SCALE - centre))


def _decimal(units: int) -> str:
    """Millionths written with six decimals, exactly (``250000`` → ``0.250000``)."""
    return f"{units // SCALE}.{units % SCALE:06d}"


def _names(projections: Iterable[Mapping[str, Any]]) -> list[str]:
    return [p["label"] for p in projections]
