"""Pascal VOC files: reading, writing, projections and bad input."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlsync.errors import AnnotationFileError
from dlsync.formats.codec import projections
from dlsync.formats.images import image_size
from dlsync.formats.voc import VocCodec
from dlsync.local.annotations import canonical_annotation
from tests.formats.pictures import box, make_image, polygon

LABELIMG = """<annotation>
  <folder>train</folder><filename>a.jpg</filename>
  <size><width>640</width><height>480</height><depth>3</depth></size>
  <object><name>cat</name><pose>Left</pose><truncated>1</truncated><difficult>0</difficult>
    <bndbox><xmin>48</xmin><ymin>240</ymin><xmax>195</xmax><ymax>371</ymax></bndbox></object>
  <object><name> dog </name><occluded>1</occluded>
    <bndbox><xmin>10.5</xmin><ymin>0</ymin><xmax>640</xmax><ymax>480</ymax></bndbox></object>
</annotation>
"""


@pytest.fixture
def voc(tmp_path: Path) -> Path:
    """A VOC layout: JPEGImages/train/a.jpg (640x480) and Annotations/."""
    make_image(tmp_path / "JPEGImages" / "train" / "a.jpg", 640, 480)
    (tmp_path / "Annotations" / "train").mkdir(parents=True)
    return tmp_path


def read(root: Path, text: str) -> list[dict[str, Any]]:
    (root / "Annotations" / "train" / "a.xml").write_text(text)
    return VocCodec(root / "Annotations").read(root / "JPEGImages", "train/a.jpg")


def test_reads_boxes_and_flags(voc: Path) -> None:
    """Objects become boxes in pixels; flags set to 1 become True attributes."""
    cat, dog = read(voc, LABELIMG)
    assert cat["label"] == "cat" and cat["type"] == "box"
    assert [(p["x"], p["y"]) for p in cat["coordinates"]] == [(48, 240), (195, 371)]
    assert cat["metadata"]["system"]["attributes"] == {"truncated": True}
    assert dog["label"] == "dog" and dog["coordinates"][0]["x"] == 10.5
    assert dog["metadata"]["system"]["attributes"] == {"occluded": True}
    canonical_annotation(cat)


def test_file_without_objects_is_empty(voc: Path) -> None:
    """An annotation with no object elements reads as no annotations."""
    assert read(voc, "<annotation><filename>a.jpg</filename></annotation>") == []


@pytest.mark.parametrize(("text", "message"), [
    ("<annotation><object>", "malformed XML at line 1"),
    ("<voc/>", "root element is <voc>"),
    ("<annotation><object><bndbox/></object></annotation>", r"object\[1\]/name is missing"),
    ("<annotation><object><name>c</name></object></annotation>", r"object\[1\]/bndbox is miss"),
    ("<annotation><object><name>c</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>x</xmax>"
     "<ymax>2</ymax></bndbox></object></annotation>", r"object\[1\]/bndbox/xmax is 'x'"),
    ("<annotation><object><name>c</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>641</xmax>"
     "<ymax>2</ymax></bndbox></object></annotation>", "outside the image"),
    ("<annotation><object><name>c</name><bndbox><xmin>5</xmin><ymin>1</ymin><xmax>4</xmax>"
     "<ymax>2</ymax></bndbox></object></annotation>", "inverted"),
    ("<annotation><object><name>c</name><difficult>maybe</difficult><bndbox><xmin>1</xmin>"
     "<ymin>1</ymin><xmax>4</xmax><ymax>2</ymax></bndbox></object></annotation>",
     r"object\[1\]/difficult is 'maybe'"),
    ('<!DOCTYPE a [<!ENTITY x "y">]><annotation>&x;</annotation>', "DOCTYPE"),
])
def test_bad_files_name_the_element(voc: Path, text: str, message: str) -> None:
    """Each bad file raises AnnotationFileError naming the file and the element or line."""
    with pytest.raises(AnnotationFileError, match=message) as caught:
        read(voc, text)
    assert caught.value.path.endswith("a.xml")


def test_write_fills_size_from_the_image(voc: Path) -> None:
    """A written file has the VOC schema, its size from the image header and 0/1 flags."""
    annotation = box("cat", 10.4, 20.6, 100, 200)
    annotation["metadata"] = {"system": {"attributes": {"difficult": True, "color": "red"}}}
    result = VocCodec(voc / "Annotations").write(voc / "JPEGImages", "train/a.jpg", [annotation])
    root = ET.parse(result.path).getroot()
    assert [root.findtext(f"size/{t}") for t in ("width", "height", "depth")] == [
        "640", "480", "3"]
    assert root.findtext("filename") == "a.jpg" and root.findtext("folder") == "train"
    assert [root.findtext(f"object/bndbox/{t}") for t in ("xmin", "ymin", "xmax", "ymax")] == [
        "10", "21", "100", "200"]
    assert [root.findtext(f"object/{f}") for f in ("difficult", "truncated", "occluded")] == [
        "1", "0", "0"]


def test_write_skips_what_voc_cannot_express(voc: Path) -> None:
    """Polygons, notes and points are left out of the file and reported as skipped."""
    given_ = [polygon("cat", [(1, 1), (5, 1), (5, 5)]), {"type": "note", "label": "n"},
              box("dog", 1, 2, 3, 4)]
    result = VocCodec(voc / "Annotations").write(voc / "JPEGImages", "train/a.jpg", given_)
    assert (result.written, result.skipped) == (1, (0, 1))


def test_projection_ignores_other_attributes(voc: Path) -> None:
    """Only the three VOC flags reach the projection, and only when true."""
    size = image_size(voc / "JPEGImages" / "train" / "a.jpg")
    annotation = box("cat", 1.4, 2.6, 30, 40)
    annotation["metadata"] = {"system": {"attributes": {"occluded": True, "truncated": False,
                                                        "color": "red"}}}
    assert VocCodec(voc).project(annotation, size) == {
        "type": "box", "label": "cat", "geometry": [1, 3, 30, 40],
        "attributes": {"occluded": True}}


@st.composite
def flagged_boxes(draw: st.DrawFn, width: int, height: int) -> dict[str, Any]:
    xs = sorted(draw(st.floats(-20, width + 20)) for _ in range(2))
    ys = sorted(draw(st.floats(-20, height + 20)) for _ in range(2))
    annotation = box(draw(st.sampled_from(["cat", "dog"])), xs[0], ys[0], xs[1], ys[1])
    flags = draw(st.dictionaries(st.sampled_from(["difficult", "truncated", "occluded", "x"]),
                                 st.booleans()))
    annotation["metadata"] = {"system": {"attributes": flags}}
    return annotation


@pytest.mark.parametrize(("width", "height", "orientation"),
                         [(640, 480, None), (33, 7, None), (64, 48, 6)])
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_round_trip_projects_equal(tmp_path: Path, width: int, height: int,
                                   orientation: int | None, data: st.DataObject) -> None:
    """read(write(x)) projects equal to project(x) for boxes with flags, rotated JPEG too."""
    image = tmp_path / "img" / ("a.jpg" if orientation else "a.png")
    if not image.exists():
        make_image(image, width, height, orientation)
    size = image_size(image)
    given_ = data.draw(st.lists(flagged_boxes(size.width, size.height), max_size=5))
    codec = VocCodec(tmp_path / "ann")
    codec.write(tmp_path / "img", image.name, given_)
    read_back = codec.read(tmp_path / "img", image.name)
    assert projections(codec, read_back, size) == projections(codec, given_, size)
