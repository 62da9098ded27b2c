"""Label-format scenarios: ``dlsync mirror`` and ``dlsync pull`` with YOLO, VOC and COCO files.

The mirror and pull fixtures are shared with the other scenarios; ``dataset`` is a small source
of real images (several sizes, one EXIF-rotated JPEG) and an empty label folder beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.formats.pictures import make_image
from tests.mirror.conftest import MirrorRun, Remote
from tests.pull.conftest import PullRun, mirror, pull, remote

__all__ = ["Dataset", "MirrorRun", "PullRun", "Remote", "dataset", "mirror", "pull", "remote"]

IMAGES = {                      # rel path: (stored width, stored height, EXIF orientation)
    "a/wide.png": (640, 480, None),
    "a/tall.jpg": (300, 500, None),
    "b/rotated.jpg": (400, 200, 6),      # displayed 200 x 400
}


@dataclass
class Dataset:
    """A source root of images and the folder their label files live in."""

    source: Path
    labels: Path

    def label(self, rel: str, suffix: str) -> Path:
        return self.labels / Path(rel).with_suffix(suffix)

    def write(self, rel: str, suffix: str, text: str) -> None:
        path = self.label(rel, suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def read(self, rel: str, suffix: str) -> str:
        return self.label(rel, suffix).read_text()


@pytest.fixture
def dataset(source: Path, tmp_path: Path) -> Dataset:
    for rel, (width, height, orientation) in IMAGES.items():
        make_image(source / rel, width, height, orientation)
    labels = tmp_path / "labels"
    labels.mkdir()
    return Dataset(source, labels)
