"""dtlpy downloads items from the gate to disk and to memory, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.dtlpy.samples import SampleTree
from tests.dtlpy.sdk import DTLPY_MARKS, SAMPLE_REMOTE_DIR

pytestmark = DTLPY_MARKS


def test_download_to_folder_writes_the_uploaded_bytes(
        uploaded: Any, sample_tree: SampleTree, tmp_path: Path) -> None:
    """item.download into a folder writes a file named like the item with the original bytes."""
    for path, sample in list(sample_tree.by_remote_path(SAMPLE_REMOTE_DIR).items())[:3]:
        item = uploaded.items.get(filepath=path)
        target = tmp_path / item.id
        target.mkdir()
        written = Path(item.download(local_path=str(target), save_locally=True))
        assert written == target / item.name
        assert written.read_bytes() == sample.data


def test_download_to_buffer_returns_the_uploaded_bytes(
        uploaded: Any, sample_tree: SampleTree) -> None:
    """item.download(save_locally=False) returns a buffer holding the original bytes."""
    jpeg = next(sample for sample in sample_tree.files if sample.rel.endswith(".jpg"))
    item = uploaded.items.get(filepath=f"{SAMPLE_REMOTE_DIR}/{jpeg.rel}")
    buffer = item.download(save_locally=False)
    assert buffer.read() == jpeg.data


# dtlpy reads the image size with ``Image.open(path).size`` and never closes the file
# (dtlpy/repositories/downloader.py:749); the ResourceWarning that leaves is dtlpy's.
@pytest.mark.filterwarnings("ignore:Exception ignored in:pytest.PytestUnraisableExceptionWarning")
def test_download_json_annotations_writes_the_boxes(
        dl: ModuleType, uploaded: Any, sample_tree: SampleTree, tmp_path: Path) -> None:
    """Downloading with the JSON option writes json/<dir>/<stem>.json holding the item's boxes."""
    sample = next(sample for sample in sample_tree.files if len(sample.boxes) == 2)
    item = uploaded.items.get(filepath=f"{SAMPLE_REMOTE_DIR}/{sample.rel}")
    item.download(local_path=str(tmp_path), annotation_options=dl.ViewAnnotationOptions.JSON)
    stem = sample.rel.rsplit(".", 1)[0]
    document = json.loads((tmp_path / "json" / SAMPLE_REMOTE_DIR.strip("/")
                           / f"{stem}.json").read_text(encoding="utf-8"))
    boxes = sorted((ann["label"], ann["coordinates"]) for ann in document["annotations"])
    assert boxes == sorted((label, [{"x": b[0], "y": b[1], "z": 0}, {"x": b[2], "y": b[3], "z": 0}])
                           for label, b in sample.boxes)


def test_download_by_filter_writes_each_file_under_items(
        dl: ModuleType, uploaded: Any, sample_tree: SampleTree, tmp_path: Path) -> None:
    """items.download(filters) writes every matching item to items/<remote path>, byte for byte."""
    filters = dl.Filters(field="dir", values="/sub/sub/deep")
    uploaded.items.download(filters=filters, local_path=str(tmp_path), raise_on_error=True)
    written = {path.relative_to(tmp_path / "items").as_posix(): path.read_bytes()
               for path in (tmp_path / "items").rglob("*") if path.is_file()}
    deep = {f"sub/{sample.rel}": sample.data for sample in sample_tree.files
            if sample.rel.startswith("sub/deep/")}
    assert written == deep
    assert len(deep) == 8
