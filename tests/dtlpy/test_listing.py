"""dtlpy lists items with Filters, reads the directory tree and gets items by path."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from tests.dtlpy.samples import SampleTree
from tests.dtlpy.sdk import DTLPY_MARKS, SAMPLE_COUNT, SAMPLE_REMOTE_DIR, all_items, filenames

pytestmark = DTLPY_MARKS


def expected(tree: SampleTree, keep: Any) -> set[str]:
    """The remote paths of the samples whose relative path passes ``keep``."""
    return {path for path, sample in tree.by_remote_path(SAMPLE_REMOTE_DIR).items()
            if keep(sample.rel)}


def test_filter_on_dir_lists_only_that_folder(
        dl: ModuleType, uploaded: Any, sample_tree: SampleTree) -> None:
    """A dir filter matches the items directly in that folder, not those in its sub-folders."""
    filters = dl.Filters(field="dir", values="/sub/sub")
    want = expected(sample_tree, lambda rel: rel.startswith("sub/") and rel.count("/") == 1)
    assert filenames(all_items(uploaded, filters)) == want
    assert len(want) == 8


def test_filter_on_filename_glob(dl: ModuleType, uploaded: Any, sample_tree: SampleTree) -> None:
    """A filename glob with an extension matches those files in that folder only."""
    filters = dl.Filters(field="filename", values="/sub/sub/*.png")
    want = expected(sample_tree, lambda rel: rel.startswith("sub/") and rel.endswith(".png"))
    assert filenames(all_items(uploaded, filters)) == want
    assert len(want) == 8


def test_filter_on_folder_filename_is_recursive(
        dl: ModuleType, uploaded: Any, sample_tree: SampleTree) -> None:
    """A filename filter naming a folder matches everything below it, at any depth."""
    filters = dl.Filters(field="filename", values="/sub/sub")
    want = expected(sample_tree, lambda rel: rel.startswith("sub/"))
    assert filenames(all_items(uploaded, filters)) == want
    assert len(want) == 16


def test_filter_on_mimetype(dl: ModuleType, uploaded: Any, sample_tree: SampleTree) -> None:
    """A metadata.system.mimetype filter separates the JPEGs from the PNGs."""
    jpegs = dl.Filters(field="metadata.system.mimetype", values="image/jpeg")
    pngs = dl.Filters(field="metadata.system.mimetype", values="image/png")
    assert filenames(all_items(uploaded, jpegs)) == expected(sample_tree,
                                                             lambda rel: rel.endswith(".jpg"))
    assert filenames(all_items(uploaded, pngs)) == expected(sample_tree,
                                                            lambda rel: rel.endswith(".png"))


def test_filter_matching_nothing_lists_nothing(dl: ModuleType, uploaded: Any) -> None:
    """A filter no item matches gives an empty listing with a zero count."""
    filters = dl.Filters(field="dir", values="/no/such/folder")
    pages = uploaded.items.list(filters=filters)
    assert pages.items_count == 0
    assert list(pages.all()) == []


def test_directory_tree_names_every_folder(uploaded: Any) -> None:
    """directory_tree lists each remote folder once, children before their parents."""
    names = uploaded.directory_tree.dir_names
    assert sorted(names) == ["/", "/sub", "/sub/sub", "/sub/sub/deep"]
    assert names.index("/sub/sub/deep") < names.index("/sub/sub") < names.index("/sub")
    assert names.index("/sub") < names.index("/")


def test_get_by_path_returns_that_item(uploaded: Any, sample_tree: SampleTree) -> None:
    """items.get(filepath=...) returns the one item at that path, with the listing's id."""
    listed = {item.filename: item.id for item in all_items(uploaded)}
    for path in sorted(sample_tree.remote_paths(SAMPLE_REMOTE_DIR))[:5]:
        item = uploaded.items.get(filepath=path)
        assert (item.filename, item.id) == (path, listed[path])


def test_get_by_missing_path_is_not_found(dl: ModuleType, uploaded: Any) -> None:
    """items.get for a path with no item raises dtlpy's NotFound."""
    with pytest.raises(dl.exceptions.NotFound):
        uploaded.items.get(filepath="/sub/nothing-here.png")


def test_get_by_id_matches_listing(uploaded: Any) -> None:
    """items.get(item_id=...) returns the same filename and size the listing showed."""
    listed = all_items(uploaded)[0]
    item = uploaded.items.get(item_id=listed.id)
    assert (item.id, item.filename) == (listed.id, listed.filename)
    assert item.metadata["system"]["size"] == listed.metadata["system"]["size"]


def test_or_filter_lists_either_folder(
        dl: ModuleType, uploaded: Any, sample_tree: SampleTree) -> None:
    """Two dir conditions joined with OR list the items of both folders and no others."""
    filters = dl.Filters()
    filters.add(field="dir", values="/sub", method=dl.FiltersMethod.OR)
    filters.add(field="dir", values="/sub/sub/deep", method=dl.FiltersMethod.OR)
    want = expected(sample_tree, lambda rel: "/" not in rel or rel.startswith("sub/deep/"))
    assert filenames(all_items(uploaded, filters)) == want
    assert len(want) == 16


def test_join_on_annotation_label_lists_annotated_items(
        dl: ModuleType, uploaded: Any, sample_tree: SampleTree) -> None:
    """An item query joined to annotations labelled 'dog' lists exactly the items with a dog."""
    filters = dl.Filters()
    filters.add_join(field="label", values="dog")
    dogs = {path for path, sample in sample_tree.by_remote_path(SAMPLE_REMOTE_DIR).items()
            if any(label == "dog" for label, _ in sample.boxes)}
    assert filenames(all_items(uploaded, filters)) == dogs
    assert len(dogs) == 12


def test_annotation_query_on_label_counts_matches(
        dl: ModuleType, uploaded: Any, sample_tree: SampleTree) -> None:
    """A dataset annotation query on label 'cat' returns one box per sample, all labelled cat."""
    filters = dl.Filters(resource=dl.FiltersResource.ANNOTATION, field="label", values="cat")
    pages = uploaded.annotations.list(filters=filters)
    cats = list(pages.all())
    assert pages.items_count == len(sample_tree.files) == len(cats)
    assert {ann.label for ann in cats} == {"cat"}
    assert len({ann.id for ann in cats}) == len(cats)


def test_dataset_counts_its_items(project: Any, uploaded: Any) -> None:
    """A freshly fetched dataset reports as many items as were uploaded into it."""
    assert project.datasets.get(dataset_id=uploaded.id).items_count == SAMPLE_COUNT
