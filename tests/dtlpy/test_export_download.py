"""dtlpy downloads a whole dataset with JSON annotations: items plus one JSON file per item.

With more than one item, ``dataset.download(annotation_options=[JSON])`` asks the gate for an
export (``POST /datasets/{id}/export``), fetches the zip the command names and unzips it into
``<local_path>/json``; the item files go to ``<local_path>/items``.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from dlsync.gate.server import RunningGate
from tests.dtlpy.samples import SampleTree, write_tree
from tests.dtlpy.sdk import DTLPY_MARKS, upload_tree

pytestmark = [
    *DTLPY_MARKS,
    # dtlpy reads each image's size with ``Image.open(path).size`` and never closes the file
    # (dtlpy/repositories/downloader.py:749); the ResourceWarning that leaves is dtlpy's.
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in:pytest.PytestUnraisableExceptionWarning"),
]
COUNT = 6
REMOTE_DIR = "/exp"


@pytest.fixture(scope="module")
def small_tree(tmp_path_factory: pytest.TempPathFactory) -> SampleTree:
    """Six images in three folders, each with its annotation file."""
    return write_tree(tmp_path_factory.mktemp("export-samples"), COUNT)


def _files(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}


def test_dataset_download_with_json_writes_items_and_annotation_files(
        dl: ModuleType, gate: RunningGate, dataset: Any, small_tree: SampleTree,
        tmp_path: Path) -> None:
    """Every item lands byte for byte under items/, and json/<dir>/<stem>.json holds the item
    as GET /items/{id} gives it plus exactly the uploaded boxes; one export was requested."""
    upload_tree(dataset, small_tree, REMOTE_DIR)
    gate.reset_stats()
    dataset.download(local_path=str(tmp_path), annotation_options=[dl.ViewAnnotationOptions.JSON],
                     raise_on_error=True)
    assert gate.stats()["by_route"]["POST /datasets/{id}/export"] == {"200": 1}
    by_path = small_tree.by_remote_path(REMOTE_DIR)
    items = _files(tmp_path / "items")
    assert {name: p.read_bytes() for name, p in items.items()} == {
        path.lstrip("/"): sample.data for path, sample in by_path.items()}
    documents = _files(tmp_path / "json")
    assert set(documents) == {path.lstrip("/").rsplit(".", 1)[0] + ".json" for path in by_path}
    for path, sample in by_path.items():
        document = json.loads(documents[path.lstrip("/").rsplit(".", 1)[0] + ".json"].read_text())
        item = dataset.items.get(filepath=path)
        assert document["id"] == item.id and document["filename"] == path
        assert document["metadata"] == item.metadata
        boxes = sorted((a["label"], a["coordinates"]) for a in document["annotations"])
        assert boxes == sorted((label, [{"x": b[0], "y": b[1], "z": 0},
                                        {"x": b[2], "y": b[3], "z": 0}])
                               for label, b in sample.boxes)
        assert sorted(a["id"] for a in document["annotations"]) == sorted(
            a.id for a in item.annotations.list())


def test_download_annotations_only_writes_the_json_files(
        dl: ModuleType, dataset: Any, small_tree: SampleTree, tmp_path: Path) -> None:
    """datasets.download_annotations (export type json, split by id ranges) writes the same
    per-item files and no items."""
    upload_tree(dataset, small_tree, REMOTE_DIR)
    dataset.download_annotations(local_path=str(tmp_path))
    documents = _files(tmp_path / "json")
    by_path = small_tree.by_remote_path(REMOTE_DIR)
    assert set(documents) == {path.lstrip("/").rsplit(".", 1)[0] + ".json" for path in by_path}
    for path, sample in by_path.items():
        document = json.loads(documents[path.lstrip("/").rsplit(".", 1)[0] + ".json"].read_text())
        assert sorted(a["label"] for a in document["annotations"]) == sorted(
            label for label, _ in sample.boxes)
    assert not (tmp_path / "items").exists()
