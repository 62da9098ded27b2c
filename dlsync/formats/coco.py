"""COCO instance annotations: one JSON file for a whole source, per-image entries.

``images[].file_name`` is the item's path relative to the source root; ``categories`` name the
labels; each ``annotations[]`` entry becomes Dataloop annotations:

    segmentation: [[x1, y1, ...], ...]   one ``segment`` per ring (bbox is derived, not read)
    segmentation: {"size", "counts"}     one ``binary`` mask (counts a list or a COCO string)
    no segmentation                      ``bbox`` [x, y, w, h] → one ``box``
    iscrowd: 1                           attribute ``iscrowd: true`` (0 makes no attribute)
    keypoints                            refused: not supported (never dropped silently)

Coordinates are pixels of the displayed image (``images[].width/height``). Errors name the file
and the key (``annotations[12].bbox``). Reading is streamed into an on-disk index
(``coco_index``); writing rewrites the whole file atomically (``coco_write``).

**Projection**::

    box      {"type": "box", "label": L, "geometry": [x, y, w, h], "attributes": {...}}
    segment  {"type": "segment", "label": L, "geometry": [x1, y1, ...], "attributes": {...}}
    binary   {"type": "binary", "label": L, "rle": "<COCO string>", "size": [h, w],
              "attributes": {...}}

Geometry is in hundredths of a pixel (COCO files are written with two decimals), clamped to the
image; a box's width and height are taken between its rounded edges so a written box reads back
equal. ``attributes`` is ``{"iscrowd": true}`` or empty. A mask projects when its PNG is the
image's size. Everything else (other attributes, metadata, rotated boxes, polygons with holes,
points, notes) projects to ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dlsync.errors import AnnotationFileError
from dlsync.formats import geometry, masks, rle
from dlsync.formats.codec import Annotation
from dlsync.formats.images import ImageSize

HUNDREDTHS = 100
ISCROWD = "iscrowd"


@dataclass(frozen=True, slots=True)
class CocoImage:
    """One ``images[]`` entry: its id, file name and displayed size."""

    id: int
    file_name: str
    width: int
    height: int

    @property
    def size(self) -> ImageSize:
        return ImageSize(self.width, self.height)


class CocoProjector:
    """What COCO can express of a Dataloop annotation."""

    name = "coco"

    def project(self, annotation: Mapping[str, Any], size: ImageSize) -> Annotation | None:
        label = geometry.label_of(annotation)
        if label is None:
            return None
        crowd = geometry.attributes_of(annotation).get(ISCROWD) in (True, 1)
        shape = _shape(annotation, size)
        if shape is None:
            return None
        return {"label": label, "attributes": {ISCROWD: True} if crowd else {}, **shape}


def _shape(annotation: Mapping[str, Any], size: ImageSize) -> dict[str, Any] | None:
    box, ring = geometry.box_of(annotation), geometry.ring_of(annotation)
    if box is not None:
        left, top, right, bottom = (_units(v, e) for v, e in zip(
            box, (size.width, size.height, size.width, size.height), strict=True))
        return {"type": "box", "geometry": [left, top, right - left, bottom - top]}
    if ring is not None:
        units = [_units(v, e) for x, y in ring for v, e in ((x, size.width), (y, size.height))]
        return {"type": "segment", "geometry": units}
    coordinates = annotation.get("coordinates")
    if annotation.get("type") == "binary" and isinstance(coordinates, str):
        found = masks.counts_of_data_url(coordinates)
        if found is not None and found[0] == (size.height, size.width):
            return {"type": "binary", "rle": rle.to_string(found[1]), "size": list(found[0])}
    return None


def _units(value: float, extent: int) -> int:
    return round(geometry.clamp(value, 0, extent) * HUNDREDTHS)


def annotations_of(entry: Any, where: str, image: CocoImage,
                   categories: Mapping[int, str], name: str) -> list[Annotation]:
    """The Dataloop annotations of one ``annotations[]`` entry of ``image``."""
    if not isinstance(entry, Mapping):
        raise AnnotationFileError(name, f"{where} is not an object")
    if entry.get("keypoints"):
        raise AnnotationFileError(name, f"{where}.keypoints: keypoints are not supported")
    category = entry.get("category_id")
    label = categories.get(category) if isinstance(category, int) else None
    if label is None:
        raise AnnotationFileError(name, f"{where}.category_id {category!r} is not in categories")
    attributes = {ISCROWD: True} if entry.get(ISCROWD) == 1 else None
    segmentation = entry.get("segmentation")
    if isinstance(segmentation, Mapping):
        url = _mask(segmentation, image, (f"{where}.segmentation", name))
        return [geometry.binary_annotation(label, url, attributes)]
    if segmentation:
        return [geometry.polygon_annotation(label, ring, attributes)
                for ring in _rings(segmentation, image, f"{where}.segmentation", name)]
    box = _box(entry.get("bbox"), image, f"{where}.bbox", name)
    return [geometry.box_annotation(label, box, attributes)]


def _rings(value: Any, image: CocoImage, where: str, name: str) -> list[list[tuple[float, float]]]:
    if not isinstance(value, list):
        raise AnnotationFileError(name, f"{where} is neither a list of polygons nor an RLE")
    rings = []
    for k, flat in enumerate(value):
        numbers = _numbers(flat, f"{where}[{k}]", name)
        if len(numbers) < 6 or len(numbers) % 2:
            raise AnnotationFileError(name, f"{where}[{k}] needs an even count of 6 or more "
                                      "numbers (x1 y1 x2 y2 x3 y3 ...)")
        ring = list(zip(numbers[0::2], numbers[1::2], strict=True))
        for x, y in ring:
            _check_inside(x, y, image, (f"{where}[{k}]", name))
        rings.append(ring)
    return rings


def _box(value: Any, image: CocoImage, where: str, name: str) -> geometry.Box:
    numbers = _numbers(value, where, name)
    if len(numbers) != 4 or numbers[2] < 0 or numbers[3] < 0:
        raise AnnotationFileError(name, f"{where} must be [x, y, width, height], sizes >= 0")
    x, y, w, h = numbers
    _check_inside(x, y, image, (where, name))
    _check_inside(x + w, y + h, image, (where, name))
    return x, y, x + w, y + h


def _mask(segmentation: Mapping[str, Any], image: CocoImage, where: tuple[str, str]) -> str:
    key, name = where
    if segmentation.get("size") != [image.height, image.width]:
        raise AnnotationFileError(name, f"{key}.size {segmentation.get('size')!r} is not the "
                                  f"image's [height, width] [{image.height}, {image.width}]")
    counts = segmentation.get("counts")
    try:
        found = rle.from_string(counts) if isinstance(counts, str) else counts
        if not isinstance(found, list):
            raise rle.RleError("counts must be a list or a compressed string")
        return masks.data_url_of_counts((image.height, image.width), found)
    except rle.RleError as exc:
        raise AnnotationFileError(name, f"{key}.counts: {exc}") from exc


def _numbers(value: Any, where: str, name: str) -> list[float]:
    if not isinstance(value, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in value):
        raise AnnotationFileError(name, f"{where} must be a list of numbers")
    return [float(v) for v in value]


def _check_inside(x: float, y: float, image: CocoImage, where: tuple[str, str]) -> None:
    slack = geometry.GEOMETRY_TOLERANCE_PX
    if not (-slack <= x <= image.width + slack and -slack <= y <= image.height + slack):
        key, name = where
        raise AnnotationFileError(name, f"{key}: point ({x:g}, {y:g}) is outside the image "
                                  f"({image.width}x{image.height})")
