"""Tiny real images and dtlpy-format annotation files, laid out as two mirrored trees.

``images/sub/b.png`` has its annotations in ``ann/sub/b.json``: the layout dtlpy's uploader expects
for ``local_annotations_path`` (the image extension is replaced by ``.json``).
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

Box = tuple[float, float, float, float]


def png_bytes(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid, uncompressed-filter RGB PNG of one colour, built from its chunks."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\x00" + bytes(rgb) * width
    pixels = zlib.compress(row * height)
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def jpeg_bytes(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid baseline JPEG of one colour."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), rgb).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def box_annotation(label: str, box: Box) -> dict[str, Any]:
    """One box annotation as dtlpy writes it in an item's JSON file."""
    left, top, right, bottom = box
    return {
        "type": "box",
        "label": label,
        "coordinates": [{"x": left, "y": top, "z": 0}, {"x": right, "y": bottom, "z": 0}],
        "metadata": {"system": {}},
    }


@dataclass(frozen=True)
class SampleFile:
    """One image of a sample tree: its path relative to the tree, its bytes, its boxes."""

    rel: str
    data: bytes
    boxes: tuple[tuple[str, Box], ...]

    @property
    def mimetype(self) -> str:
        """The mimetype its extension implies."""
        return "image/jpeg" if self.rel.endswith(".jpg") else "image/png"


@dataclass(frozen=True)
class SampleTree:
    """Images under ``images_dir``, their annotation files mirrored under ``ann_dir``."""

    images_dir: Path
    ann_dir: Path
    files: tuple[SampleFile, ...]

    def remote_paths(self, remote_dir: str) -> set[str]:
        """The item filenames an upload of ``images_dir/*`` into ``remote_dir`` must create."""
        return {f"{remote_dir.rstrip('/')}/{sample.rel}" for sample in self.files}

    def by_remote_path(self, remote_dir: str) -> dict[str, SampleFile]:
        """Each sample keyed by the item filename it gets under ``remote_dir``."""
        return {f"{remote_dir.rstrip('/')}/{sample.rel}": sample for sample in self.files}


def sample_file(index: int) -> SampleFile:
    """The index-th sample: PNGs at the top and in ``sub/``, JPEGs in ``sub/deep/``."""
    colour = (index * 37 % 256, index * 91 % 256, index * 13 % 256)
    folder, maker, ext = [("", png_bytes, "png"), ("sub/", png_bytes, "png"),
                          ("sub/deep/", jpeg_bytes, "jpg")][index % 3]
    side = 4 + index % 5
    boxes: list[tuple[str, Box]] = [("cat", (1.0 + index, 2.0, 10.0 + index, 12.0))]
    if index % 2:
        boxes.append(("dog", (3.0, 4.0 + index, 7.0, 9.0 + index)))
    return SampleFile(f"{folder}img_{index:03d}.{ext}", maker(side, side, colour), tuple(boxes))


def write_tree(root: Path, count: int) -> SampleTree:
    """Write ``count`` samples and their annotation files under ``root``."""
    tree = SampleTree(root / "images", root / "ann", tuple(sample_file(i) for i in range(count)))
    for sample in tree.files:
        image = tree.images_dir / sample.rel
        image.parent.mkdir(parents=True, exist_ok=True)
        image.write_bytes(sample.data)
        document = {
            "annotations": [box_annotation(label, box) for label, box in sample.boxes],
            "metadata": {"system": {}, "user": {"source": "samples"}},
        }
        ann = (tree.ann_dir / sample.rel).with_suffix(".json")
        ann.parent.mkdir(parents=True, exist_ok=True)
        ann.write_text(json.dumps(document), encoding="utf-8")
    return tree


def write_flat(root: Path, count: int) -> list[Path]:
    """Write ``count`` distinct tiny PNGs directly in ``root`` (for paging tests)."""
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = root / f"p_{index:05d}.png"
        path.write_bytes(png_bytes(1, 1, (index % 256, index // 256 % 256, 7)))
        paths.append(path)
    return paths
