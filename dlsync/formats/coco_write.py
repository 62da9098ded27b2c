"""Writing COCO files: the whole file rewritten with some images' annotations replaced, or a
file of just some images (a conflict copy).

``rewrite`` streams the indexed file back out through ``atomic.replacing``: other top-level keys,
images, categories and the entries of images not being replaced are copied as they were; image,
category and annotation ids stay what they were, and new ones continue after the largest. A
replaced image's entry that projects equal to one of its new annotations is kept as it was
(its id and any keys dlsync does not read, like ``score``); the others are written from their
projections, with ``bbox`` and ``area`` computed. Annotations COCO cannot express are left out
and reported per image.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from dlsync.errors import AnnotationFileError
from dlsync.formats import rle
from dlsync.formats.coco import HUNDREDTHS, ISCROWD, CocoImage, CocoProjector, annotations_of
from dlsync.formats.coco_index import CocoIndex, normal_name
from dlsync.formats.codec import Annotation
from dlsync.formats.geometry import projection_hash
from dlsync.formats.images import ImageSize, image_size
from dlsync.local import atomic

PROJECTOR = CocoProjector()


@dataclass(frozen=True, slots=True)
class CocoWriteResult:
    """The file written, the annotations written, and per image the indexes left out."""

    path: Path
    written: int
    skipped: Mapping[str, tuple[int, ...]] = field(default_factory=dict)


@dataclass(slots=True)
class _Ids:
    """Next free ids, and the category id of each label."""

    image: int
    category: int
    annotation: int
    labels: dict[str, int]
    new_categories: list[dict[str, Any]] = field(default_factory=list)

    def category_of(self, label: str) -> int:
        if label not in self.labels:
            self.category += 1
            self.labels[label] = self.category
            self.new_categories.append({"id": self.category, "name": label,
                                        "supercategory": ""})
        return self.labels[label]

    def next_annotation(self) -> int:
        self.annotation += 1
        return self.annotation


def rewrite(index: CocoIndex, updates: Mapping[str, Sequence[Mapping[str, Any]]],
            source_root: Path) -> CocoWriteResult:
    """Rewrite ``index.path`` with the annotations of the images in ``updates`` replaced.

    An image not yet in the file is added, its size read from its header under ``source_root``.
    """
    top_image, top_category, top_annotation = index.max_ids()
    ids = _Ids(top_image, top_category, top_annotation,
               {name: i for i, name in sorted(index.categories().items(), reverse=True)})
    images = {normal_name(n): _image_for(index, normal_name(n), source_root, ids) for n in updates}
    new_images = [i for i in images.values() if i.id > top_image]
    replaced = {images[normal_name(n)].id: list(a) for n, a in updates.items()}
    entries, result = _annotation_texts(index, images, replaced, ids)
    with atomic.replacing(index.path) as out:
        out.write("{")
        for key, body in index.extras():
            out.write(f"{json.dumps(key)}: {body},\n")
        _section(out, "images", [body for _, body in index.raw_images()]
                 + [_dump(_image_entry(i)) for i in new_images])
        _section(out, "annotations", entries)
        _section(out, "categories", [*index.raw_categories(),
                                     *(_dump(c) for c in ids.new_categories)], last=True)
    return CocoWriteResult(index.path, *result)


def write_subset(path: Path, images: Iterable[tuple[str, ImageSize, Sequence[Mapping[str, Any]]]]
                 ) -> CocoWriteResult:
    """A new COCO file at ``path`` holding just ``images``: (file_name, size, annotations)."""
    ids = _Ids(0, 0, 0, {})
    image_entries, entries, written, skipped = [], [], 0, {}
    for file_name, size, given in images:
        ids.image += 1
        image = CocoImage(ids.image, normal_name(file_name), size.width, size.height)
        image_entries.append(_dump(_image_entry(image)))
        texts, left_out = _new_entries(image, given, ids)
        entries.extend(texts)
        written += len(texts)
        if left_out:
            skipped[image.file_name] = left_out
    with atomic.replacing(path) as out:
        out.write("{")
        _section(out, "images", image_entries)
        _section(out, "annotations", entries)
        _section(out, "categories", [_dump(c) for c in ids.new_categories], last=True)
    return CocoWriteResult(path, written, skipped)


def _image_for(index: CocoIndex, name: str, source_root: Path, ids: _Ids) -> CocoImage:
    found = index.image(name)
    if found is not None:
        return found
    size = image_size(source_root / name)
    ids.image += 1
    return CocoImage(ids.image, name, size.width, size.height)


def _annotation_texts(index: CocoIndex, images: Mapping[str, CocoImage],
                      replaced: Mapping[int, list[Mapping[str, Any]]], ids: _Ids
                      ) -> tuple[list[str], tuple[int, dict[str, tuple[int, ...]]]]:
    texts = [body for image_id, body in index.raw_annotations() if image_id not in replaced]
    written, skipped = 0, {}
    for image in images.values():
        kept = _reusable(index, image)
        new, left_out = _new_entries(image, replaced[image.id], ids, kept)
        texts.extend(new)
        written += len(new)
        if left_out:
            skipped[image.file_name] = left_out
    return texts, (written, skipped)


def _reusable(index: CocoIndex, image: CocoImage) -> dict[str, list[str]]:
    """Projection hash → old entry texts of ``image`` that hold exactly one annotation."""
    found: dict[str, list[str]] = {}
    for position, entry in index.entries(image.id):
        try:
            read = annotations_of(entry, f"annotations[{position}]", image, index.categories(),
                                  str(index.path))
        except AnnotationFileError:
            continue  # an old entry dlsync cannot read is replaced, not kept
        projection = PROJECTOR.project(read[0], image.size) if len(read) == 1 else None
        if projection is not None:
            found.setdefault(projection_hash(projection), []).append(_dump(entry))
    return found


def _new_entries(image: CocoImage, annotations: Sequence[Mapping[str, Any]], ids: _Ids,
                 reusable: dict[str, list[str]] | None = None) -> tuple[list[str], tuple[int, ...]]:
    texts: list[str] = []
    skipped: list[int] = []
    for i, annotation in enumerate(annotations):
        projection = PROJECTOR.project(annotation, image.size)
        if projection is None:
            skipped.append(i)
            continue
        old = (reusable or {}).get(projection_hash(projection))
        if old:
            texts.append(old.pop())
            continue
        category = ids.category_of(projection["label"])
        texts.append(_dump(entry_of(projection, (ids.next_annotation(), image.id, category))))
    return texts, tuple(skipped)


def entry_of(projection: Annotation, ids: tuple[int, int, int]) -> dict[str, Any]:
    """The COCO annotation entry of a projection; ``ids``: (annotation, image, category)."""
    entry_id, image_id, category_id = ids
    entry: dict[str, Any] = {"id": entry_id, "image_id": image_id, "category_id": category_id,
                             ISCROWD: 1 if projection["attributes"].get(ISCROWD) else 0}
    if projection["type"] == "box":
        x, y, w, h = projection["geometry"]
        entry |= {"bbox": _pixels([x, y, w, h]), "area": round(w * h / HUNDREDTHS**2, 2),
                  "segmentation": []}
    elif projection["type"] == "segment":
        points = projection["geometry"]
        entry |= {"segmentation": [_pixels(points)], "bbox": _pixels(_bounds(points)),
                  "area": round(_shoelace(points) / HUNDREDTHS**2, 2)}
    else:
        height, width = projection["size"]
        counts = rle.from_string(projection["rle"])
        entry |= {"segmentation": {"size": [height, width], "counts": projection["rle"]},
                  "area": sum(counts[1::2]), "bbox": _mask_bounds(counts, height)}
    return entry


def _image_entry(image: CocoImage) -> dict[str, Any]:
    return {"id": image.id, "file_name": image.file_name, "width": image.width,
            "height": image.height}


def _section(out: TextIO, key: str, texts: Iterable[str], *, last: bool = False) -> None:
    """One top-level ``"key": [...]`` with an entry per line; ``last`` closes the document."""
    out.write(f'"{key}": [')
    for i, text in enumerate(texts):
        out.write(("," if i else "") + "\n  " + text)
    out.write("\n]}\n" if last else "\n],\n")


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _pixel(units: int) -> int | float:
    return units // HUNDREDTHS if units % HUNDREDTHS == 0 else units / HUNDREDTHS


def _pixels(units: Sequence[int]) -> list[int | float]:
    return [_pixel(u) for u in units]


def _bounds(flat: Sequence[int]) -> list[int]:
    xs, ys = flat[0::2], flat[1::2]
    return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


def _shoelace(flat: Sequence[int]) -> float:
    xs, ys = flat[0::2], flat[1::2]
    twice = sum(xs[i - 1] * ys[i] - xs[i] * ys[i - 1] for i in range(len(xs)))
    return abs(twice) / 2


def _mask_bounds(counts: Sequence[int], height: int) -> list[int]:
    """[x, y, w, h] around the 1-runs of column-major ``counts`` ([0, 0, 0, 0] when empty)."""
    cells: list[tuple[int, int]] = []
    start = 0
    for i, count in enumerate(counts):
        if i % 2 and count:
            first, last = start, start + count - 1
            cells += [divmod(first, height), divmod(last, height)]
            if last // height > first // height:
                cells += [(first // height, 0), (first // height, height - 1)]
        start += count
    if not cells:
        return [0, 0, 0, 0]
    xs, ys = [c for c, _ in cells], [r for _, r in cells]
    return [min(xs), min(ys), max(xs) - min(xs) + 1, max(ys) - min(ys) + 1]
