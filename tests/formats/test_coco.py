"""COCO files: the streamed index, conversion, projections, rewriting and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dlsync.errors import AnnotationFileError
from dlsync.formats.coco import CocoProjector
from dlsync.formats.coco_index import CocoIndex
from dlsync.formats.coco_write import rewrite, write_subset
from dlsync.formats.codec import projections
from dlsync.formats.images import ImageSize
from dlsync.formats.masks import counts_of_data_url
from dlsync.local.annotations import canonical_annotation
from tests.formats.pictures import box, make_image, polygon

PROJECTOR = CocoProjector()


def sample() -> dict[str, Any]:
    """Two images, three categories, a box, a two-ring polygon and two RLE masks."""
    return {
        "info": {"description": "sample"}, "licenses": [{"id": 1, "name": "CC"}],
        "tool.version": "3.1",
        "images": [{"id": 7, "file_name": "a/one.jpg", "width": 64, "height": 48},
                   {"id": 9, "file_name": "./two.png", "width": 20, "height": 10}],
        "categories": [{"id": 1, "name": "cat"}, {"id": 3, "name": "dog"},
                       {"id": 4, "name": "crowd"}],
        "annotations": [
            {"id": 100, "image_id": 7, "category_id": 1, "bbox": [4, 5, 10.5, 20],
             "iscrowd": 0, "area": 210, "score": 0.9},
            {"id": 101, "image_id": 7, "category_id": 3, "iscrowd": 0, "bbox": [0, 0, 1, 1],
             "segmentation": [[1, 1, 9, 1, 9, 9], [20, 20, 30, 20, 30, 30, 20, 30]]},
            {"id": 102, "image_id": 9, "category_id": 4, "iscrowd": 1,
             "segmentation": {"size": [10, 20], "counts": [5, 3, 192]}},
            {"id": 103, "image_id": 9, "category_id": 1, "iscrowd": 0,
             "segmentation": {"size": [10, 20], "counts": "b14b4"}},
        ],
    }


def write_coco(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(document))
    return path


def test_index_converts_every_kind(tmp_path: Path) -> None:
    """bbox → box, each polygon ring → segment, RLE (list or string) → binary, iscrowd kept."""
    with CocoIndex.build(write_coco(tmp_path, sample())) as index:
        one, two = index.image("a/one.jpg"), index.image("two.png")
        assert one is not None and two is not None
        box_, ring1, ring2 = index.annotations(one)
        crowd, mask = index.annotations(two)
    assert box_["type"] == "box" and box_["label"] == "cat"
    assert [(p["x"], p["y"]) for p in box_["coordinates"]] == [(4, 5), (14.5, 25)]
    assert [r["type"] for r in (ring1, ring2)] == ["segment", "segment"]
    assert len(ring2["coordinates"][0]) == 4
    assert crowd["type"] == "binary" and crowd["metadata"]["system"]["attributes"] == {
        "iscrowd": True}
    assert counts_of_data_url(crowd["coordinates"]) == ((10, 20), [5, 3, 192])
    assert mask["label"] == "cat"
    for annotation in (box_, ring1, crowd, mask):
        canonical_annotation(annotation)


def test_index_lists_images_in_path_order_and_missing_files(tmp_path: Path) -> None:
    """Images come in path order with ./ removed; those without a local file are listed."""
    source = tmp_path / "src"
    make_image(source / "two.png", 20, 10)
    with CocoIndex.build(write_coco(tmp_path, sample())) as index:
        assert [i.file_name for i in index.images()] == ["a/one.jpg", "two.png"]
        assert list(index.missing_files(source)) == ["a/one.jpg"]


def test_content_hash_changes_only_for_the_changed_image(tmp_path: Path) -> None:
    """Editing one image's entry changes its hash alone; renaming a category changes its users."""
    with CocoIndex.build(write_coco(tmp_path, sample())) as index:
        before = {i.file_name: h for i, h in index.hashes()}
    document = sample()
    document["annotations"][0]["bbox"] = [5, 5, 10.5, 20]
    with CocoIndex.build(write_coco(tmp_path, document)) as index:
        after = {i.file_name: h for i, h in index.hashes()}
    assert after["a/one.jpg"] != before["a/one.jpg"] and after["two.png"] == before["two.png"]
    document["categories"][2]["name"] = "people"
    with CocoIndex.build(write_coco(tmp_path, document)) as index:
        renamed = {i.file_name: h for i, h in index.hashes()}
    assert renamed["two.png"] != after["two.png"] and renamed["a/one.jpg"] == after["a/one.jpg"]


def broken(change: str) -> dict[str, Any]:
    document = sample()
    images, annotations = document["images"], document["annotations"]
    if change == "same file_name":
        images[1]["file_name"] = "a/one.jpg"
    elif change == "same image id":
        images[1]["id"] = 7
    elif change == "keypoints":
        annotations[0]["keypoints"] = [1, 2, 2]
    elif change == "unknown image":
        annotations[1]["image_id"] = 99
    elif change == "unknown category":
        annotations[2]["category_id"] = 2
    elif change == "no width":
        del images[0]["width"]
    return document


@pytest.mark.parametrize(("change", "message"), [
    ("same file_name", r"images\[1\] has the file_name 'a/one.jpg' of images\[0\]"),
    ("same image id", r"images\[1\] has the id of images\[0\]"),
    ("keypoints", r"annotations\[0\].keypoints: keypoints are not supported"),
    ("unknown image", r"annotations\[1\].image_id 99 is not in 'images'"),
    ("unknown category", r"annotations\[2\].category_id 2 is not in 'categories'"),
    ("no width", r"images\[0\].width must be an integer"),
])
def test_bad_files_name_the_key(tmp_path: Path, change: str, message: str) -> None:
    """Each inconsistency raises AnnotationFileError naming the file and the key."""
    with pytest.raises(AnnotationFileError, match=message) as caught:
        CocoIndex.build(write_coco(tmp_path, broken(change)), tmp_path).close()
    assert caught.value.path.endswith("coco.json")
    assert [p.name for p in tmp_path.iterdir()] == ["coco.json"]  # index removed


@pytest.mark.parametrize(("text", "message"), [
    ('{"images": [', "invalid JSON"), ("[1, 2]", "root is not an object"),
    ('{"annotations": []}', "no 'images' list"), ('{"images": [3]}', r"images\[0\] is not"),
])
def test_not_coco_at_all(tmp_path: Path, text: str, message: str) -> None:
    """Files that are not COCO JSON are refused with a message that says why."""
    (tmp_path / "coco.json").write_text(text)
    with pytest.raises(AnnotationFileError, match=message):
        CocoIndex.build(tmp_path / "coco.json").close()


@pytest.mark.parametrize(("entry", "message"), [
    ({"bbox": [60, 5, 10, 10]}, r"annotations\[0\].bbox: point \(70, 15\) is outside"),
    ({"bbox": [1, 2, 3]}, r"annotations\[0\].bbox must be \[x, y, width, height\]"),
    ({"segmentation": [[1, 1, 2, 2]]}, r"segmentation\[0\] needs an even count of 6"),
    ({"segmentation": {"size": [1, 1], "counts": [1]}}, r"segmentation.size \[1, 1\]"),
    ({"segmentation": {"size": [48, 64], "counts": [5]}}, "counts add up to 5"),
])
def test_bad_geometry_is_reported_when_read(tmp_path: Path, entry: dict[str, Any],
                                            message: str) -> None:
    """Bad geometry fails the image's read, naming the annotation entry and key."""
    document = {"images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}],
                "categories": [{"id": 1, "name": "cat"}],
                "annotations": [{"id": 1, "image_id": 1, "category_id": 1, **entry}]}
    with CocoIndex.build(write_coco(tmp_path, document)) as index:
        image = index.image("a.jpg")
        assert image is not None
        with pytest.raises(AnnotationFileError, match=message):
            index.annotations(image)


def test_rewrite_keeps_ids_and_untouched_entries(tmp_path: Path) -> None:
    """Replacing one image keeps other entries, ids and extra keys; new ones are appended."""
    source = tmp_path / "src"
    make_image(source / "new.jpg", 30, 30)
    path = write_coco(tmp_path, sample())
    with CocoIndex.build(path) as index:
        kept_box = index.annotations(index.image("a/one.jpg"))[0]  # type: ignore[arg-type]
        result = rewrite(index, {"a/one.jpg": [kept_box, box("bird", 1, 1, 5, 5)],
                                 "new.jpg": [polygon("cat", [(1, 1), (5, 1), (5, 5)])]}, source)
    assert result.written == 3 and not result.skipped
    document = json.loads(path.read_text())
    assert document["info"] == {"description": "sample"} and len(document["licenses"]) == 1
    assert document["tool.version"] == "3.1"
    assert [(i["id"], i["file_name"]) for i in document["images"]] == [
        (7, "a/one.jpg"), (9, "./two.png"), (10, "new.jpg")]
    assert [(c["id"], c["name"]) for c in document["categories"]][-1] == (5, "bird")
    by_id = {a["id"]: a for a in document["annotations"]}
    assert by_id[100]["score"] == 0.9            # unchanged entry kept as it was
    assert 101 not in by_id                      # replaced
    assert {102, 103} <= set(by_id)              # other image untouched
    assert sorted(by_id)[-2:] == [104, 105]
    with CocoIndex.build(path) as index:
        assert [i.file_name for i in index.images()] == ["a/one.jpg", "new.jpg", "two.png"]


def test_rewrite_round_trip_projects_equal(tmp_path: Path) -> None:
    """Annotations written by rewrite read back with equal projections, masks included."""
    path = write_coco(tmp_path, sample())
    with CocoIndex.build(path) as index:
        two = index.image("two.png")
        assert two is not None
        given_ = [*index.annotations(two), box("cat", -3, 2.345, 19.999, 8),
                  polygon("dog", [(0.004, 1), (19.996, 1), (10, 9.995)]),
                  {"type": "note", "label": "x"}]
        result = rewrite(index, {"two.png": given_}, tmp_path)
    assert result.skipped == {"two.png": (4,)}
    with CocoIndex.build(path) as index:
        read = index.annotations(two)
    size = ImageSize(20, 10)
    assert projections(PROJECTOR, read, size) == projections(PROJECTOR, given_, size)


def test_write_subset_holds_just_the_given_images(tmp_path: Path) -> None:
    """The conflict writer makes a COCO file of only the given images and their labels."""
    result = write_subset(tmp_path / "conflict.json", [
        ("b.jpg", ImageSize(50, 40), [box("cat", 1, 2, 11, 12)]),
        ("c/d.jpg", ImageSize(10, 10), [polygon("dog", [(1, 1), (2, 1), (2, 2)])])])
    document = json.loads(result.path.read_text())
    assert [i["file_name"] for i in document["images"]] == ["b.jpg", "c/d.jpg"]
    assert [c["name"] for c in document["categories"]] == ["cat", "dog"]
    assert document["annotations"][0]["bbox"] == [1, 2, 10, 10]
    assert document["annotations"][0]["area"] == 100
    assert document["annotations"][1]["area"] == 0.5
