"""YOLO label files: reading, writing, class files, projections and bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlsync.errors import AnnotationFileError
from dlsync.formats.codec import projections
from dlsync.formats.images import image_size
from dlsync.formats.yolo import YoloCodec
from dlsync.local.annotations import canonical_annotation
from tests.formats.pictures import box, make_image, polygon


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """An Ultralytics layout: data.yaml, images/train/a.jpg (640x480), labels/."""
    root = tmp_path / "dataset"
    make_image(root / "images" / "train" / "a.jpg", 640, 480)
    (root / "labels" / "train").mkdir(parents=True)
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nnames:\n  0: cat\n  1: dog\n")
    return root


def codec_for(root: Path) -> YoloCodec:
    return YoloCodec.open(root / "labels")


def write_label(root: Path, text: str) -> Path:
    path = root / "labels" / "train" / "a.txt"
    path.write_text(text)
    return path


def test_reads_box_and_polygon_in_pixels(dataset: Path) -> None:
    """A box line and a polygon line become Dataloop box and segment dicts in pixels."""
    write_label(dataset, "0 0.5 0.5 0.25 0.5\n1 0.1 0.1 0.2 0.1 0.2 0.2\n")
    box_, poly = codec_for(dataset).read(dataset / "images", "train/a.jpg")
    assert box_["type"] == "box" and box_["label"] == "cat"
    assert [(p["x"], p["y"]) for p in box_["coordinates"]] == [(240, 120), (400, 360)]
    assert poly["type"] == "segment" and poly["label"] == "dog"
    assert [v for p in poly["coordinates"][0] for v in (p["x"], p["y"])] == pytest.approx(
        [64, 48, 128, 48, 128, 96])
    canonical_annotation(box_)
    canonical_annotation(poly)


def test_empty_file_means_no_objects(dataset: Path) -> None:
    """An empty (or blank) label file reads as no annotations."""
    write_label(dataset, "\n  \n")
    assert codec_for(dataset).read(dataset / "images", "train/a.jpg") == []


@pytest.mark.parametrize("names", ["[cat, dog]", "{0: cat, 1: dog}"])
def test_data_yaml_names_as_list_or_map(dataset: Path, names: str) -> None:
    """``names`` in data.yaml may be a list or an {id: name} map."""
    (dataset / "data.yaml").write_text(f"names: {names}\n")
    assert dict(codec_for(dataset).classes.names) == {0: "cat", 1: "dog"}


def test_classes_txt_in_labels_dir(tmp_path: Path) -> None:
    """Without a data.yaml, DIR/classes.txt names the classes one per line."""
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "classes.txt").write_text("cat\ndog\n\n")
    assert dict(YoloCodec.open(labels).classes.names) == {0: "cat", 1: "dog"}


def test_no_classes_file_names_the_candidates(tmp_path: Path) -> None:
    """With no classes file anywhere, the error lists the three places tried."""
    (tmp_path / "labels").mkdir()
    with pytest.raises(AnnotationFileError) as caught:
        YoloCodec.open(tmp_path / "labels")
    for name in ("data.yaml", "labels/data.yaml", "labels/classes.txt"):
        assert name in str(caught.value)


def test_pose_dataset_is_refused(dataset: Path) -> None:
    """A data.yaml with kpt_shape is a pose dataset: refused, not misread as polygons."""
    (dataset / "data.yaml").write_text("kpt_shape: [17, 3]\nnames: [person]\n")
    with pytest.raises(AnnotationFileError, match="pose dataset"):
        codec_for(dataset)


@pytest.mark.parametrize(("text", "message"), [
    ("0 0.5 0.5 0.2\n", "3 numbers after the class id"),
    ("0 0.1 0.1 0.2 0.2 0.3 0.3 0.4\n", "7 numbers"),
    ("x 0.5 0.5 0.2 0.2\n", "class id 'x' is not an integer"),
    ("7 0.5 0.5 0.2 0.2\n", "class id 7 is not in"),
    ("0 0.5 1.5 0.2 0.2\n", "coordinate 1.5 is outside 0..1"),
    ("0 0.5 -0.1 0.2 0.2\n", "outside 0..1"),
    ("0 0.5 nan 0.2 0.2\n", "outside 0..1"),
    ("0 0.5 abc 0.2 0.2\n", "'abc' is not a number"),
])
def test_bad_lines_name_file_and_line(dataset: Path, text: str, message: str) -> None:
    """Each malformed line raises AnnotationFileError naming the file and line 2."""
    write_label(dataset, "0 0.5 0.5 0.2 0.2\n" + text)
    with pytest.raises(AnnotationFileError, match=message) as caught:
        codec_for(dataset).read(dataset / "images", "train/a.jpg")
    assert caught.value.path.endswith("a.txt:2")


def test_unsizable_image_is_reported(dataset: Path) -> None:
    """An image whose header cannot be read fails the read, naming the image."""
    (dataset / "images" / "train" / "a.jpg").write_bytes(b"garbage")
    write_label(dataset, "0 0.5 0.5 0.2 0.2\n")
    with pytest.raises(AnnotationFileError, match=r"a\.jpg: cannot read the image size"):
        codec_for(dataset).read(dataset / "images", "train/a.jpg")


def test_write_appends_new_label_to_classes_txt(tmp_path: Path) -> None:
    """A label missing from a classes text file is appended, then written with its new id."""
    make_image(tmp_path / "images" / "a.png", 100, 50)
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "classes.txt").write_text("cat\n")
    codec = YoloCodec.open(tmp_path / "labels")
    result = codec.write(tmp_path / "images", "a.png", [box("bird", 10, 10, 30, 20)])
    assert (tmp_path / "labels" / "classes.txt").read_text() == "cat\nbird\n"
    assert result.path.read_text() == "1 0.200000 0.300000 0.200000 0.200000\n"
    assert result.written == 1


def test_write_refuses_label_missing_from_data_yaml(dataset: Path) -> None:
    """A label missing from data.yaml is an error naming it; no label file is written."""
    codec = codec_for(dataset)
    with pytest.raises(AnnotationFileError, match="'bird'"):
        codec.write(dataset / "images", "train/a.jpg", [box("bird", 1, 1, 5, 5)])
    assert not codec.label_path("train/a.jpg").exists()


def test_write_skips_what_yolo_cannot_express(dataset: Path) -> None:
    """Notes, points, rotated boxes and polygons with holes are left out and reported."""
    rotated = box("cat", 1, 1, 5, 5)
    rotated["coordinates"] = [*rotated["coordinates"], 30]  # type: ignore[misc]
    holed = polygon("cat", [(1, 1), (9, 1), (9, 9)])
    holed["coordinates"] = [*holed["coordinates"], [{"x": 2, "y": 2}] * 3]  # type: ignore[misc]
    given_ = [{"type": "note", "label": "x"}, {"type": "point", "label": "cat",
              "coordinates": {"x": 1, "y": 2}}, rotated, holed, box("dog", 0, 0, 64, 48)]
    result = codec_for(dataset).write(dataset / "images", "train/a.jpg", given_)
    assert (result.written, result.skipped) == (1, (0, 1, 2, 3))
    assert result.path.read_text() == "1 0.050000 0.050000 0.100000 0.100000\n"


def test_projection_keeps_label_and_geometry_only(dataset: Path) -> None:
    """Attributes, metadata and ids do not reach the projection; geometry is in millionths."""
    size = image_size(dataset / "images" / "train" / "a.jpg")
    annotation = box("cat", 64, 48, 128, 96)
    annotation["metadata"] = {"system": {"attributes": {"occluded": True}}, "user": {"k": 1}}
    projected = codec_for(dataset).project(annotation, size)
    assert projected == {"type": "box", "label": "cat",
                         "geometry": [150_000, 150_000, 100_000, 100_000]}


def test_box_beyond_the_image_is_clamped_and_stable(dataset: Path) -> None:
    """A platform box sticking out of the image is clamped, and reads back equal."""
    codec = codec_for(dataset)
    images = dataset / "images"
    annotation = box("cat", -20, 470.3, 700, 500)
    codec.write(images, "train/a.jpg", [annotation])
    size = image_size(images / "train" / "a.jpg")
    assert projections(codec, codec.read(images, "train/a.jpg"), size) == [
        codec.project(annotation, size)]


SIZES = [(640, 480, None), (31, 17, None), (4000, 3000, None), (64, 48, 6), (64, 48, 8)]


@st.composite
def boxes(draw: st.DrawFn, width: int, height: int) -> dict[str, Any]:
    xs = sorted(draw(st.floats(-0.1 * width, 1.1 * width)) for _ in range(2))
    ys = sorted(draw(st.floats(-0.1 * height, 1.1 * height)) for _ in range(2))
    return box(draw(st.sampled_from(["cat", "dog"])), xs[0], ys[0], xs[1], ys[1])


@st.composite
def polygons(draw: st.DrawFn, width: int, height: int) -> dict[str, Any]:
    count = draw(st.integers(3, 8))
    points = [(draw(st.floats(-5, width + 5)), draw(st.floats(-5, height + 5)))
              for _ in range(count)]
    return polygon(draw(st.sampled_from(["cat", "dog"])), points)


@pytest.mark.parametrize(("width", "height", "orientation"), SIZES)
@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_round_trip_projects_equal(tmp_path: Path, width: int, height: int,
                                   orientation: int | None, data: st.DataObject) -> None:
    """read(write(x)) projects equal to project(x) for boxes and polygons, rotated JPEGs too."""
    suffix = ".jpg" if orientation else ".png"
    if not (tmp_path / "images" / f"a{suffix}").exists():  # one image for all examples
        make_image(tmp_path / "images" / f"a{suffix}", width, height, orientation)
    (tmp_path / "labels").mkdir(exist_ok=True)
    (tmp_path / "labels" / "classes.txt").write_text("cat\ndog\n")
    size = image_size(tmp_path / "images" / f"a{suffix}")
    shown_w, shown_h = size.width, size.height
    given_ = data.draw(st.lists(st.one_of(boxes(shown_w, shown_h), polygons(shown_w, shown_h)),
                                max_size=5))
    codec = YoloCodec.open(tmp_path / "labels")
    codec.write(tmp_path / "images", f"a{suffix}", given_)
    read = codec.read(tmp_path / "images", f"a{suffix}")
    assert projections(codec, read, size) == projections(codec, given_, size)
