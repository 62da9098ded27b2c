"""dtlpy updates item metadata, moves items, and deletes them one by one and by query."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from tests.dtlpy.samples import SampleTree
from tests.dtlpy.sdk import DTLPY_MARKS, all_items, boxes_of, filenames, upload_tree

pytestmark = DTLPY_MARKS


@pytest.fixture
def items(dataset: Any, sample_tree: SampleTree) -> dict[str, Any]:
    """The sample tree uploaded under ``/edits`` of a fresh dataset, keyed by remote path."""
    return {item.filename: item for item in upload_tree(dataset, sample_tree, "/edits")}


def test_user_metadata_update_is_stored(dataset: Any, items: dict[str, Any]) -> None:
    """item.update() after setting metadata['user'] persists it; system metadata is untouched."""
    item = items["/edits/img_000.png"]
    size = item.metadata["system"]["size"]
    item.metadata["user"] = {"split": "train", "score": 0.5, "tags": ["a", "b"]}
    returned = item.update()
    fetched = dataset.items.get(item_id=item.id)
    assert returned.metadata["user"] == {"split": "train", "score": 0.5, "tags": ["a", "b"]}
    assert fetched.metadata["user"] == {"split": "train", "score": 0.5, "tags": ["a", "b"]}
    assert fetched.metadata["system"]["size"] == size
    assert fetched.filename == "/edits/img_000.png"


def test_user_metadata_key_can_be_removed(dataset: Any, items: dict[str, Any]) -> None:
    """Dropping one user key and updating removes only that key."""
    item = items["/edits/img_003.png"]
    item.metadata["user"] = {"keep": 1, "drop": 2}
    item = item.update()
    del item.metadata["user"]["drop"]
    item.update()
    assert dataset.items.get(item_id=item.id).metadata["user"] == {"keep": 1}


def test_move_keeps_id_and_annotations(dataset: Any, items: dict[str, Any]) -> None:
    """item.move(new path) renames the item in place: same id, new filename, same boxes."""
    item = items["/edits/sub/img_001.png"]
    boxes = boxes_of(item)
    moved = item.move("/elsewhere/renamed.png")
    fetched = dataset.items.get(filepath="/elsewhere/renamed.png")
    assert moved.id == item.id
    assert (fetched.id, fetched.filename, fetched.name) == (item.id, "/elsewhere/renamed.png",
                                                            "renamed.png")
    assert fetched.dir == "/elsewhere"
    assert boxes_of(fetched) == boxes and boxes
    assert "/edits/sub/img_001.png" not in filenames(all_items(dataset))
    assert "/elsewhere" in dataset.directory_tree.dir_names


def test_delete_one_item(dl: ModuleType, dataset: Any, items: dict[str, Any]) -> None:
    """item.delete() removes that item only; getting it afterwards is NotFound."""
    victim = items["/edits/img_006.png"]
    assert victim.delete() is True
    with pytest.raises(dl.exceptions.NotFound):
        dataset.items.get(item_id=victim.id)
    assert filenames(all_items(dataset)) == set(items) - {"/edits/img_006.png"}


def test_delete_by_query_removes_exactly_the_matches(
        dl: ModuleType, dataset: Any, items: dict[str, Any]) -> None:
    """items.delete(filters=dir) deletes the items of that folder and leaves every other one."""
    filters = dl.Filters(field="dir", values="/edits/sub/deep")
    doomed = {path for path in items if path.startswith("/edits/sub/deep/")}
    assert len(doomed) == 8
    dataset.items.delete(filters=filters)
    assert filenames(all_items(dataset)) == set(items) - doomed
    assert all_items(dataset, dl.Filters(field="dir", values="/edits/sub/deep")) == []


def test_make_dir_creates_an_empty_folder(dataset: Any) -> None:
    """items.make_dir creates a dir item that the directory tree lists and file listings skip."""
    folder = dataset.items.make_dir(directory="/empty/inner")
    assert (folder.type, folder.filename) == ("dir", "/empty/inner")
    assert {"/empty", "/empty/inner"} <= set(dataset.directory_tree.dir_names)
    assert all_items(dataset) == []


def test_move_items_by_filter_into_a_folder(
        dl: ModuleType, dataset: Any, items: dict[str, Any]) -> None:
    """move_items(destination, filters) moves the matches into the folder and keeps their ids."""
    jpegs = {path: item.id for path, item in items.items() if path.endswith(".jpg")}
    filters = dl.Filters(field="metadata.system.mimetype", values="image/jpeg")
    assert dataset.items.move_items(destination="/jpegs", filters=filters) is True
    moved = all_items(dataset, dl.Filters(field="dir", values="/jpegs"))
    assert {item.id for item in moved} == set(jpegs.values())
    assert {item.name for item in moved} == {path.rsplit("/", 1)[1] for path in jpegs}
    assert len(all_items(dataset)) == len(items)


def test_bulk_update_sets_user_metadata_on_matches_only(
        dl: ModuleType, dataset: Any, items: dict[str, Any]) -> None:
    """items.update(filters, update_values) changes the matching items' user metadata only."""
    filters = dl.Filters(field="dir", values="/edits/sub")
    dataset.items.update(filters=filters, update_values={"reviewed": True})
    for item in all_items(dataset):
        reviewed = item.metadata.get("user", {}).get("reviewed")
        assert reviewed is (True if item.dir == "/edits/sub" else None), item.filename
