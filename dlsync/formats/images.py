"""Image width and height from the file header, in the displayed frame.

Pillow's ``Image.open`` reads only the header: ``.size`` is the stored width and height and
``getexif()`` the EXIF block, without decoding a pixel. (A PNG's ``eXIf`` chunk is seen when it
precedes the image data, where writers put it; Pillow's PNG ``getexif`` would decode the pixels
to look past them, so the base method is called.) EXIF orientations 5 to 8 rotate the image by
a quarter turn when it is shown, so the displayed width is the stored height. Every label format
here measures coordinates in that displayed frame (as Ultralytics, the COCO tools and the Dataloop
viewer do), so ``image_size`` returns the displayed size.

An image Pillow cannot identify, or that has no positive size, raises ``AnnotationFileError``
naming the image. Pillow's decompression-bomb guard is for decoding; headers alone are safe, so
its warning is silenced here and its error reported as an unusable image.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

from dlsync.errors import AnnotationFileError
from dlsync.formats import optional

EXIF_ORIENTATION = 0x0112
QUARTER_TURNS = frozenset({5, 6, 7, 8})   # orientations shown rotated by 90 or 270 degrees


@dataclass(frozen=True, slots=True)
class ImageSize:
    """Displayed width and height in pixels, the EXIF orientation applied (1: none), and the
    number of colour channels (``depth``: 3 for RGB, 1 for greyscale)."""

    width: int
    height: int
    orientation: int = 1
    depth: int = 3


def image_size(path: str | os.PathLike[str]) -> ImageSize:
    """The displayed size of the image at ``path``, read from its header."""
    name = os.fspath(path)
    width, height, orientation, depth = _header(name)
    if width <= 0 or height <= 0:
        raise AnnotationFileError(name, f"image reports a size of {width}x{height}")
    if orientation in QUARTER_TURNS:
        return ImageSize(height, width, orientation, depth)
    return ImageSize(width, height, orientation, depth)


def _header(name: str) -> tuple[int, int, int, int]:
    try:
        from PIL import Image
    except ImportError as exc:
        raise optional.missing("Pillow", "reading image sizes") from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(name) as image:
                width, height = image.size
                # the base method: PNG's override decodes the pixels to look past them
                orientation = Image.Image.getexif(image).get(EXIF_ORIENTATION, 1)
                depth = len(image.getbands())
    except FileNotFoundError as exc:
        raise AnnotationFileError(name, "image not found") from exc
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise AnnotationFileError(name, f"cannot read the image size: {exc}") from exc
    return width, height, orientation if isinstance(orientation, int) else 1, depth
