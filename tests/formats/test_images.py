"""Image sizes read from headers, EXIF orientation applied."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlsync.errors import AnnotationFileError
from dlsync.formats.images import ImageSize, image_size
from tests.formats.pictures import make_image


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp", ".webp"])
def test_size_of_common_formats(tmp_path: Path, suffix: str) -> None:
    """Width and height come from the header of each common image format."""
    path = make_image(tmp_path / f"a{suffix}", 64, 48)
    assert image_size(path) == ImageSize(64, 48, 1)


@pytest.mark.parametrize(("orientation", "expected"), [
    (1, (64, 48)), (3, (64, 48)), (5, (48, 64)), (6, (48, 64)), (8, (48, 64))])
def test_exif_orientation_gives_displayed_size(tmp_path: Path, orientation: int,
                                               expected: tuple[int, int]) -> None:
    """Orientations 5 to 8 show the image a quarter turn rotated: width and height swap."""
    path = make_image(tmp_path / "a.jpg", 64, 48, orientation=orientation)
    size = image_size(path)
    assert (size.width, size.height, size.orientation) == (*expected, orientation)


def test_not_an_image_is_named(tmp_path: Path) -> None:
    """A file Pillow cannot identify raises AnnotationFileError naming the image."""
    path = tmp_path / "a.jpg"
    path.write_bytes(b"not an image at all")
    with pytest.raises(AnnotationFileError, match=r"a\.jpg: cannot read the image size"):
        image_size(path)


def test_missing_image_is_named(tmp_path: Path) -> None:
    """A missing image raises AnnotationFileError saying so."""
    with pytest.raises(AnnotationFileError, match="image not found"):
        image_size(tmp_path / "gone.png")


def test_truncated_jpeg_header_still_sizes(tmp_path: Path) -> None:
    """Only the header is read: a JPEG cut after its header still has a size."""
    path = make_image(tmp_path / "a.jpg", 300, 200)
    path.write_bytes(path.read_bytes()[:700])
    assert image_size(path) == ImageSize(300, 200, 1)


def test_png_exif_chunk_orientation(tmp_path: Path) -> None:
    """A PNG's eXIf chunk (written before the image data) rotates the displayed size too."""
    path = make_image(tmp_path / "a.png", 64, 48, orientation=6)
    assert image_size(path) == ImageSize(48, 64, 6)
