"""The gate measures uploaded images from their headers, in the frame its behaviour names."""

from __future__ import annotations

import io

from PIL import Image

from dlsync.doctor.probe import ROTATED_JPEG
from dlsync.gate.imagesize import image_size


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height)).save(out, "PNG")
    return out.getvalue()


def test_rotated_jpeg_is_measured_in_the_frame_asked_for() -> None:
    """A JPEG stored 4x2 with EXIF orientation 6 is 2x4 displayed and 4x2 stored, as Pillow
    reads it."""
    assert image_size(ROTATED_JPEG, displayed=True) == (2, 4)
    assert image_size(ROTATED_JPEG, displayed=False) == (4, 2)
    assert Image.open(io.BytesIO(ROTATED_JPEG)).size == (4, 2)


def test_png_and_unknown_data() -> None:
    """A PNG's IHDR gives its size; text, a cut header or an empty upload give none."""
    assert image_size(_png(7, 3), displayed=True) == (7, 3)
    assert image_size(b"hello", displayed=True) is None
    assert image_size(ROTATED_JPEG[:30], displayed=True) is None
    assert image_size(b"", displayed=False) is None
