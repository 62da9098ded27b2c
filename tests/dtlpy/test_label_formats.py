"""YOLO, COCO and Pascal VOC round trips, checked through dtlpy (docs/formats.md).

``dlsync mirror`` sends a small dataset (images of several sizes, one JPEG with an EXIF
rotation) in each format; dtlpy then sees every box and polygon at the file's geometry, within
``GEOMETRY_TOLERANCE_PX``. An annotator moves a box with dtlpy, sets an attribute on another and
adds a classification (which no format can express); ``dlsync pull`` brings the move into the
file and changes nothing else in it; the following ``dlsync mirror`` writes nothing, and the
attribute and the classification are still on the platform.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from dlsync import cli
from dlsync.formats import GEOMETRY_TOLERANCE_PX
from dlsync.gate.server import RunningGate
from tests.dtlpy.sdk import DTLPY_MARKS, EMAIL, all_items, unique
from tests.formats.pictures import make_image
from tests.mirror.conftest import writes

pytestmark = DTLPY_MARKS

IMAGES = {"a/wide.png": (640, 480, None), "a/tall.jpg": (300, 500, None),
          "b/rotated.jpg": (400, 200, 6)}                 # displayed 200 x 400
BOXES = {"a/wide.png": (64.0, 48.0, 320.0, 240.0), "a/tall.jpg": (30.0, 50.0, 150.0, 400.0),
         "b/rotated.jpg": (20.0, 300.0, 180.0, 380.0)}    # left, top, right, bottom (pixels)
POLYGON = [(10.0, 10.0), (200.0, 20.0), (100.0, 300.0)]   # on a/wide.png (not in VOC)
DISPLAYED = {"a/wide.png": (640, 480), "a/tall.jpg": (300, 500), "b/rotated.jpg": (200, 400)}


def _yolo(labels: Path) -> None:
    (labels / "classes.txt").write_text("cat\ndog\n")
    for rel, (x1, y1, x2, y2) in BOXES.items():
        w, h = DISPLAYED[rel]
        line = f"0 {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} " \
               f"{(y2 - y1) / h:.6f}\n"
        if rel == "a/wide.png":
            line += "1 " + " ".join(f"{x / w:.6f} {y / h:.6f}" for x, y in POLYGON) + "\n"
        path = labels / Path(rel).with_suffix(".txt")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(line)


def _voc(labels: Path) -> None:
    for rel, box in BOXES.items():
        edges = "".join(f"<{t}>{int(v)}</{t}>" for t, v in zip(
            ("xmin", "ymin", "xmax", "ymax"), box, strict=True))
        path = labels / Path(rel).with_suffix(".xml")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<annotation><object><name>cat</name><bndbox>{edges}</bndbox>"
                        "</object></annotation>")


def _coco(labels: Path) -> Path:
    images, annotations = [], []
    for n, (rel, (x1, y1, x2, y2)) in enumerate(BOXES.items(), start=1):
        w, h = DISPLAYED[rel]
        images.append({"id": n, "file_name": rel, "width": w, "height": h})
        annotations.append({"id": 10 * n, "image_id": n, "category_id": 1, "iscrowd": 0,
                            "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1)})
    annotations.append({"id": 99, "image_id": 1, "category_id": 2, "iscrowd": 0, "area": 1,
                        "bbox": [10, 10, 190, 290],
                        "segmentation": [[c for point in POLYGON for c in point]]})
    path = labels / "instances.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": [
        {"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]}))
    return path


def _dlsync(argv: list[str]) -> int:
    try:
        cli.main(["--log-level", "error", *argv])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    raise AssertionError("dlsync.cli.main returned without exiting")


def _close(got: tuple[float, ...], want: tuple[float, ...]) -> bool:
    return all(abs(g - w) <= GEOMETRY_TOLERANCE_PX for g, w in zip(got, want, strict=True))


@pytest.mark.parametrize("name", ["yolo", "voc", "coco"])
def test_round_trip_through_dtlpy(name: str, dl: ModuleType, gate: RunningGate, project: Any,
                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Geometry equals the file's; an annotator's dtlpy edit comes back into the file alone;
    an attribute and a classification survive a pull then a mirror; the rerun writes nothing."""
    source, labels = tmp_path / "images", tmp_path / "labels"
    for rel, (width, height, orientation) in IMAGES.items():
        make_image(source / rel, width, height, orientation)
    labels.mkdir()
    target = _coco(labels) if name == "coco" else labels
    if name == "yolo":
        _yolo(labels)
    elif name == "voc":
        _voc(labels)
    dataset_name = unique(name)
    monkeypatch.setenv("DLSYNC_TOKEN", gate.mint_token(email=EMAIL, ttl=3600))
    common = [str(source), "--remote", gate.url, "--project", project.name, "--dataset",
              dataset_name, "--annotation-format", name, "--annotations", str(target),
              "--state", str(tmp_path / "state.db")]
    assert _dlsync(["mirror", *common, "--create", "--no-progress"]) == 0

    dataset = project.datasets.get(dataset_name=dataset_name)
    items = {item.filename.lstrip("/"): item for item in all_items(dataset)}
    assert set(items) == set(IMAGES)
    for rel, box in BOXES.items():
        found = {a.type: a for a in items[rel].annotations.list()}
        got = found["box"]
        assert _close((got.left, got.top, got.right, got.bottom), box), (rel, got.coordinates)
    if name != "voc":
        polygon = {a.type: a for a in items["a/wide.png"].annotations.list()}["segment"]
        points = tuple(v for point in polygon.geo for v in point)
        assert _close(points, tuple(v for point in POLYGON for v in point))

    before_files = {p: p.read_bytes() for p in labels.rglob("*") if p.is_file()}
    moved = {a.type: a for a in items["a/tall.jpg"].annotations.list()}["box"]
    moved.left, moved.right = moved.left + 10, moved.right + 10
    moved.update(system_metadata=True)
    marked = {a.type: a for a in items["b/rotated.jpg"].annotations.list()}["box"]
    marked.attributes = {"colour": "black"}
    marked.update(system_metadata=True)
    builder = items["b/rotated.jpg"].annotations.builder()
    builder.add(annotation_definition=dl.Classification(label="blurry"))
    items["b/rotated.jpg"].annotations.upload(builder)

    assert _dlsync(["pull", *common]) == 0
    after_files = {p: p.read_bytes() for p in labels.rglob("*") if p.is_file()}
    changed = {p.relative_to(labels).as_posix() for p in after_files
               if before_files.get(p) != after_files[p]}
    expected = {"coco": {"instances.json"}, "yolo": {"a/tall.txt"}, "voc": {"a/tall.xml"}}
    assert changed == expected[name]
    if name == "coco":
        document = json.loads((labels / "instances.json").read_text())
        old = {a["id"]: a for a in json.loads(before_files[target].decode())["annotations"]}
        by_id = {a["id"]: a for a in document["annotations"]}
        assert {i: by_id[i] for i in (10, 30, 99)} == {i: old[i] for i in (10, 30, 99)}
        edited = [a for a in document["annotations"] if a["image_id"] == 2]
        assert len(edited) == 1 and edited[0]["id"] == 100     # a new id after the largest
        assert edited[0]["bbox"][0] == pytest.approx(BOXES["a/tall.jpg"][0] + 10)
        assert [i["id"] for i in document["images"]] == [1, 2, 3]

    stats_before = writes(gate.stats())
    assert _dlsync(["mirror", *common, "--no-progress"]) == 0
    assert writes(gate.stats()) == stats_before
    rotated = {a.type: a for a in items["b/rotated.jpg"].annotations.list()}
    assert rotated["class"].label == "blurry"
    assert rotated["box"].attributes == {"colour": "black"}
    assert os.path.exists(source / "b/rotated.jpg")
