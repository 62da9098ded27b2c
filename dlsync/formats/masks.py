"""Dataloop binary masks (PNG data URLs) to and from COCO RLE.

Dataloop stores a ``binary`` annotation as ``data:image/png;base64,...``: an RGBA PNG the size of
the image whose alpha channel above 127 marks the mask (dtlpy ``Segmentation.from_coordinates``).
Decoding that PNG needs Pillow (the ``formats`` extra); the run counting is ``rle``.
"""

from __future__ import annotations

import base64
import binascii
import io
from typing import Any

from dlsync.formats import optional, rle

DATA_URL_PREFIX = "data:image/png;base64,"
ALPHA_THRESHOLD = 127
TO_255 = bytes.maketrans(b"\x00\x01", b"\x00\xff")


def counts_of_data_url(data_url: str) -> tuple[tuple[int, int], list[int]] | None:
    """((height, width), run counts) of a mask data URL; ``None`` if it is not a PNG mask."""
    if not data_url.startswith(DATA_URL_PREFIX):
        return None
    Image = _pillow()
    try:
        raw = base64.b64decode(data_url[len(DATA_URL_PREFIX):], validate=True)
        with Image.open(io.BytesIO(raw)) as png:
            alpha = png.convert("RGBA").getchannel("A")
    except (OSError, ValueError, binascii.Error):
        return None
    bits = alpha.point(lambda a: 1 if a > ALPHA_THRESHOLD else 0)
    column_major = bits.transpose(Image.Transpose.TRANSPOSE).tobytes()
    return (alpha.height, alpha.width), rle.encode_counts(column_major)


def data_url_of_counts(size: tuple[int, int], counts: list[int]) -> str:
    """The Dataloop mask PNG data URL of run ``counts`` over an image of (height, width)."""
    height, width = size
    Image = _pillow()
    column_major = rle.decode_counts(counts, height * width).translate(TO_255)
    mask = Image.frombytes("L", (height, width), column_major).transpose(
        Image.Transpose.TRANSPOSE)
    buffer = io.BytesIO()
    Image.merge("RGBA", (mask, mask, mask, mask)).save(buffer, format="PNG")
    return DATA_URL_PREFIX + base64.b64encode(buffer.getvalue()).decode("ascii")


def _pillow() -> Any:
    try:
        from PIL import Image
    except ImportError as exc:
        raise optional.missing("Pillow", "binary masks") from exc
    return Image
