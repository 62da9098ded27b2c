"""dtlpy downloads items from the gate to disk and to memory, byte for byte."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.dtlpy.conftest import SAMPLE_REMOTE_DIR
from tests.dtlpy.samples import SampleTree
from tests.dtlpy.sdk import DTLPY_MARKS

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
