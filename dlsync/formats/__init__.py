"""Local label formats as codecs at the edge: YOLO, COCO and Pascal VOC (design decision 10).

Each codec reads its files into Dataloop annotation dicts (what
``dlsync.local.annotations.canonical_annotation`` accepts), writes such dicts back atomically,
and defines its *projection*: the fields the format expresses, at the precision it writes.
Hashes taken over projections let a caller compare a file with the platform without ever
treating what a format cannot say as deleted. ``docs/formats.md`` describes formats, layouts,
projections, tolerance and errors.

    codec.py        Codec / Projector protocols, WriteResult, projections and their hashes
    images.py       image size from the header, EXIF orientation applied
    geometry.py     Dataloop annotation dicts in and out; quantising; projection hash
    classes.py      YOLO class names (data.yaml or a text file)
    yolo.py         YOLO .txt label files                      YoloCodec
    voc.py          Pascal VOC .xml files                      VocCodec
    coco.py         COCO entries ⇄ Dataloop dicts; projection  CocoProjector
    coco_index.py   a COCO file streamed into an on-disk index CocoIndex
    coco_write.py   COCO rewrite and the conflict writer       rewrite, write_subset
    rle.py          COCO run-length encoding (pure Python)
    masks.py        Dataloop mask PNG data URLs ⇄ RLE counts
    optional.py     the error for a missing library of the ``formats`` extra

The libraries of the ``formats`` extra (Pillow, PyYAML, ijson) are imported only when a codec
first needs them.
"""

from __future__ import annotations

from dlsync.formats.codec import (
    Annotation,
    Codec,
    Projector,
    WriteResult,
    projection_hashes,
    projections,
)
from dlsync.formats.geometry import GEOMETRY_TOLERANCE_PX, projection_hash
from dlsync.formats.images import ImageSize, image_size

__all__ = [
    "GEOMETRY_TOLERANCE_PX",
    "Annotation",
    "Codec",
    "ImageSize",
    "Projector",
    "WriteResult",
    "image_size",
    "projection_hash",
    "projection_hashes",
    "projections",
]
