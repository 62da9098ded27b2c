"""dtlpy call sequences the SDK tests share: upload a sample tree, list, read annotations."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.dtlpy.samples import Box, SampleTree

EMAIL = "tester@dlsync.test"
SAMPLE_COUNT = 24
SAMPLE_REMOTE_DIR = "/sub"

# Every dtlpy test carries these marks. dtlpy's uploader passes aiohttp's deprecated
# ``verify_ssl`` argument on each upload; that warning is dtlpy's, not dlsync's.
DTLPY_MARKS = [
    pytest.mark.dtlpy,
    pytest.mark.filterwarnings("ignore:verify_ssl is deprecated:DeprecationWarning"),
]


def unique(prefix: str) -> str:
    """A project or dataset name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def upload_tree(dataset: Any, tree: SampleTree, remote_dir: str) -> list[Any]:
    """Upload ``tree`` with its annotation files into ``remote_dir``; the items dtlpy returned."""
    items = dataset.items.upload(local_path=f"{tree.images_dir}/*",
                                 local_annotations_path=str(tree.ann_dir),
                                 remote_path=remote_dir, return_as_list=True,
                                 raise_on_error=True)
    return list(items)


def all_items(dataset: Any, filters: Any = None) -> list[Any]:
    """Every item a dtlpy listing returns, across all pages."""
    return list(dataset.items.list(filters=filters).all())


def filenames(items: list[Any]) -> set[str]:
    """The remote paths of ``items``."""
    return {item.filename for item in items}


def boxes_of(item: Any) -> list[tuple[str, Box]]:
    """The item's box annotations as (label, (left, top, right, bottom)), sorted."""
    return sorted((ann.label, (ann.left, ann.top, ann.right, ann.bottom))
                  for ann in item.annotations.list())
