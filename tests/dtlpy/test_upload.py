"""dtlpy uploads a folder tree with annotation files into a remote folder, and re-uploads it."""

from __future__ import annotations

import io
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.dtlpy.samples import SampleTree, png_bytes
from tests.dtlpy.sdk import (
    DTLPY_MARKS,
    SAMPLE_COUNT,
    SAMPLE_REMOTE_DIR,
    all_items,
    boxes_of,
    filenames,
    upload_tree,
)

pytestmark = DTLPY_MARKS


def annotation_count(dl: ModuleType, dataset: Any) -> int:
    """How many annotations a dataset-wide annotation query reports."""
    filters = dl.Filters(resource=dl.FiltersResource.ANNOTATION)
    return int(dataset.annotations.list(filters=filters).items_count)


def test_upload_puts_every_file_at_its_mirrored_remote_path(
        uploaded: Any, sample_tree: SampleTree) -> None:
    """Each local file becomes one item at <remote dir>/<relative path>, with its size."""
    items = all_items(uploaded)
    by_path = sample_tree.by_remote_path(SAMPLE_REMOTE_DIR)
    assert len(items) == SAMPLE_COUNT
    assert filenames(items) == set(by_path)
    for item in items:
        sample = by_path[item.filename]
        assert item.name == sample.rel.rsplit("/", 1)[-1]
        assert item.dir == item.filename.rsplit("/", 1)[0]
        assert item.metadata["system"]["size"] == len(sample.data)
        assert item.type == "file"
    assert len({item.id for item in items}) == SAMPLE_COUNT


def test_upload_attaches_each_files_annotations(uploaded: Any, sample_tree: SampleTree) -> None:
    """Every item holds exactly the boxes of its JSON file: count, labels and coordinates."""
    by_path = sample_tree.by_remote_path(SAMPLE_REMOTE_DIR)
    for item in all_items(uploaded):
        assert boxes_of(item) == sorted(by_path[item.filename].boxes), item.filename


def test_upload_reports_dataset_wide_annotation_count(
        dl: ModuleType, uploaded: Any, sample_tree: SampleTree) -> None:
    """An annotation query over the dataset counts every box of every file once."""
    expected = sum(len(sample.boxes) for sample in sample_tree.files)
    assert annotation_count(dl, uploaded) == expected


def test_reupload_in_skip_mode_keeps_items_and_annotations(
        dl: ModuleType, dataset: Any, sample_tree: SampleTree) -> None:
    """Uploading the same tree twice (skip mode) returns the same ids and duplicates nothing."""
    first = upload_tree(dataset, sample_tree, "/again")
    annotations_before = annotation_count(dl, dataset)
    second = upload_tree(dataset, sample_tree, "/again")
    first_ids = {item.filename: item.id for item in first}
    second_ids = {item.filename: item.id for item in second}
    assert len(first_ids) == SAMPLE_COUNT
    assert second_ids == first_ids
    assert {item.id for item in all_items(dataset)} == set(first_ids.values())
    assert annotations_before == sum(len(sample.boxes) for sample in sample_tree.files)
    assert annotation_count(dl, dataset) == annotations_before


def test_upload_with_item_metadata_stores_it_under_user(
        dataset: Any, sample_tree: SampleTree) -> None:
    """item_metadata given to upload comes back on the item, beside the system metadata."""
    sample = sample_tree.files[0]
    item = dataset.items.upload(local_path=str(sample_tree.images_dir / sample.rel),
                                remote_path="/meta", item_metadata={"user": {"batch": 7}})
    fetched = dataset.items.get(item_id=item.id)
    assert fetched.filename == f"/meta/{sample.rel}"
    assert fetched.metadata["user"] == {"batch": 7}
    assert fetched.metadata["system"]["size"] == len(sample.data)


def test_overwrite_upload_replaces_the_content(dataset: Any, tmp_path: Path) -> None:
    """overwrite=True on an existing path stores the new bytes; the path still holds one item."""
    image = tmp_path / "same.png"
    image.write_bytes(png_bytes(4, 4, (1, 2, 3)))
    dataset.items.upload(local_path=str(image), remote_path="/ow")
    new_bytes = png_bytes(9, 9, (200, 100, 50))
    image.write_bytes(new_bytes)
    replaced = dataset.items.upload(local_path=str(image), remote_path="/ow", overwrite=True)
    assert replaced.metadata["system"]["size"] == len(new_bytes)
    assert [item.filename for item in all_items(dataset)] == ["/ow/same.png"]
    assert dataset.items.get(filepath="/ow/same.png").download(save_locally=False).read() \
        == new_bytes


def test_buffer_upload_uses_remote_name(dataset: Any) -> None:
    """A BytesIO with remote_name becomes an item of that name holding the buffer's bytes."""
    data = png_bytes(3, 3, (9, 9, 9))
    item = dataset.items.upload(local_path=io.BytesIO(data), remote_name="from-memory.png",
                                remote_path="/mem")
    assert (item.filename, item.name) == ("/mem/from-memory.png", "from-memory.png")
    assert item.metadata["system"]["size"] == len(data)
    assert item.metadata["system"]["mimetype"] == "image/png"


def test_metadata_from_annotation_json_reaches_the_item(
        dl: ModuleType, dataset: Any, sample_tree: SampleTree) -> None:
    """ExportMetadata.FROM_JSON sends each JSON file's metadata; items carry its user part."""
    items = dataset.items.upload(local_path=f"{sample_tree.images_dir}/*",
                                 local_annotations_path=str(sample_tree.ann_dir),
                                 remote_path="/fromjson",
                                 item_metadata=dl.ExportMetadata.FROM_JSON,
                                 return_as_list=True, raise_on_error=True)
    assert len(items) == SAMPLE_COUNT
    for item in all_items(dataset):
        assert item.metadata["user"] == {"source": "samples"}, item.filename


def test_folder_upload_without_star_keeps_the_head_folder(
        dataset: Any, sample_tree: SampleTree) -> None:
    """Uploading a folder path (no '/*') puts its files under <remote dir>/<folder name>/."""
    items = dataset.items.upload(local_path=str(sample_tree.images_dir), remote_path="/head",
                                 return_as_list=True, raise_on_error=True)
    assert len(items) == SAMPLE_COUNT
    assert filenames(all_items(dataset)) == sample_tree.remote_paths("/head/images")


def test_upload_with_description_stores_it(dataset: Any, sample_tree: SampleTree) -> None:
    """item_description given to upload is the description of the item fetched back."""
    sample = sample_tree.files[1]
    item = dataset.items.upload(local_path=str(sample_tree.images_dir / sample.rel),
                                remote_path="/described", item_description="a tiny square")
    assert dataset.items.get(item_id=item.id).description == "a tiny square"


def test_unicode_and_space_names_round_trip(dataset: Any, tmp_path: Path) -> None:
    """A file named with spaces and accents keeps that name remotely and is found by it."""
    folder = tmp_path / "dossier été"
    folder.mkdir()
    data = png_bytes(5, 5, (1, 1, 1))
    (folder / "chat noir é.png").write_bytes(data)
    dataset.items.upload(local_path=f"{folder}/*", remote_path="/unicodé dir",
                         raise_on_error=True)
    item = dataset.items.get(filepath="/unicodé dir/chat noir é.png")
    assert (item.name, item.dir) == ("chat noir é.png", "/unicodé dir")
    assert item.download(save_locally=False).read() == data


def test_uploaded_items_report_their_annotation_count(
        uploaded: Any, sample_tree: SampleTree) -> None:
    """Fetched items say they are annotated and count the boxes their JSON file held."""
    for path, sample in list(sample_tree.by_remote_path(SAMPLE_REMOTE_DIR).items())[:4]:
        item = uploaded.items.get(filepath=path)
        assert item.annotated
        assert item.annotations_count == len(sample.boxes), path


def test_skip_upload_of_a_changed_file_replaces_the_item(dataset: Any, tmp_path: Path) -> None:
    """In skip mode a changed local file mismatches the existing item's size, so dtlpy deletes
    that item and uploads again: the path then holds the new bytes, under a new id."""
    image = tmp_path / "grows.png"
    image.write_bytes(png_bytes(2, 2, (3, 3, 3)))
    first = dataset.items.upload(local_path=str(image), remote_path="/skip")
    bigger = png_bytes(12, 12, (4, 4, 4))
    image.write_bytes(bigger)
    second = dataset.items.upload(local_path=str(image), remote_path="/skip")
    assert second.id != first.id
    assert [item.id for item in all_items(dataset)] == [second.id]
    assert second.download(save_locally=False).read() == bigger
