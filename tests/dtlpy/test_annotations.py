"""dtlpy uploads, lists, updates and deletes an item's annotations on the gate."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.dtlpy.samples import box_annotation, png_bytes
from tests.dtlpy.sdk import DTLPY_MARKS, boxes_of

pytestmark = DTLPY_MARKS


@pytest.fixture
def item(dataset: Any, tmp_path: Path) -> Any:
    """One freshly uploaded PNG with no annotations."""
    image = tmp_path / "plain.png"
    image.write_bytes(png_bytes(16, 16, (10, 200, 30)))
    return dataset.items.upload(local_path=str(image), remote_path="/ann")


def build_boxes(dl: ModuleType, item: Any) -> Any:
    """A builder holding two boxes on ``item``: a bird and a fish."""
    builder = item.annotations.builder()
    builder.add(annotation_definition=dl.Box(top=1, left=2, bottom=5, right=6, label="bird"))
    builder.add(annotation_definition=dl.Box(top=3, left=4, bottom=9, right=8, label="fish"))
    return builder


def test_builder_upload_returns_created_annotations(dl: ModuleType, item: Any) -> None:
    """Uploading a builder returns both annotations with ids, and listing shows the same ones."""
    created = item.annotations.upload(build_boxes(dl, item))
    listed = item.annotations.list()
    assert len(created) == 2 and all(ann.id for ann in created)
    assert {ann.id for ann in listed} == {ann.id for ann in created}
    assert boxes_of(item) == [("bird", (2, 1, 6, 5)), ("fish", (4, 3, 8, 9))]
    assert {ann.item_id for ann in listed} == {item.id}


def test_json_upload_adds_to_existing_annotations(dl: ModuleType, item: Any) -> None:
    """Annotation JSON dicts upload beside earlier annotations; nothing is replaced."""
    item.annotations.upload(build_boxes(dl, item))
    created = item.annotations.upload([box_annotation("cat", (0.0, 0.0, 3.0, 3.0))])
    assert [ann.label for ann in created] == ["cat"]
    assert [label for label, _ in boxes_of(item)] == ["bird", "cat", "fish"]


def test_annotation_label_update_is_stored(dl: ModuleType, item: Any) -> None:
    """Changing an annotation's label and calling update() changes only that annotation."""
    bird, fish = sorted(item.annotations.upload(build_boxes(dl, item)), key=lambda a: a.label)
    bird.label = "eagle"
    updated = bird.update()
    assert (updated.id, updated.label) == (bird.id, "eagle")
    assert item.annotations.get(annotation_id=bird.id).label == "eagle"
    assert item.annotations.get(annotation_id=fish.id).label == "fish"
    assert boxes_of(item) == [("eagle", (2, 1, 6, 5)), ("fish", (4, 3, 8, 9))]


def test_annotation_delete_removes_only_that_one(dl: ModuleType, item: Any) -> None:
    """annotation.delete() removes it; the other annotation stays and the deleted one is gone."""
    bird, fish = sorted(item.annotations.upload(build_boxes(dl, item)), key=lambda a: a.label)
    assert bird.delete() is True
    assert [ann.id for ann in item.annotations.list()] == [fish.id]
    with pytest.raises(dl.exceptions.NotFound):
        item.annotations.get(annotation_id=bird.id)


def test_delete_all_of_an_item_by_query(dl: ModuleType, dataset: Any, item: Any,
                                        tmp_path: Path) -> None:
    """annotations.delete('all') empties this item's annotations and leaves another item's."""
    other_image = tmp_path / "other.png"
    other_image.write_bytes(png_bytes(8, 8, (5, 5, 5)))
    other = dataset.items.upload(local_path=str(other_image), remote_path="/ann")
    kept = other.annotations.upload(build_boxes(dl, other))
    item.annotations.upload(build_boxes(dl, item))
    item.annotations.delete(annotation="all")
    assert list(item.annotations.list()) == []
    assert {ann.id for ann in other.annotations.list()} == {ann.id for ann in kept}


def test_delete_by_id_list_removes_those_ids(dl: ModuleType, item: Any) -> None:
    """annotations.delete(annotation_id=[...]) removes the listed annotations, not the rest."""
    first = item.annotations.upload(build_boxes(dl, item))
    second = item.annotations.upload([box_annotation("cat", (0.0, 0.0, 3.0, 3.0))])
    item.annotations.delete(annotation_id=[ann.id for ann in first])
    assert [ann.id for ann in item.annotations.list()] == [second[0].id]
