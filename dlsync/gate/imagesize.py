"""An uploaded image's width and height, read from its header as the platform reports them.

The platform fills ``metadata.system.width`` and ``height`` of image items; which frame they are
in for a JPEG with an EXIF orientation (the pixels as stored, or the image as displayed with the
orientation applied) is a guess (``GateBehaviour.exif_displayed_frame``, a ``dlsync doctor
--probe`` row): annotation coordinates live in the same frame. Only JPEG and PNG headers are
read, from the first bytes of the upload; pixels are never decoded. Anything unreadable has no
size, as an item the platform could not measure.
"""

from __future__ import annotations

import struct

HEAD_BYTES = 64 << 10
"""How much of an upload is kept to read its header from."""

_PNG = b"\x89PNG\r\n\x1a\n"
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE,
                  0xCF})
_QUARTER_TURNS = frozenset({5, 6, 7, 8})


class HeadKeeper:
    """Keeps the first ``HEAD_BYTES`` of an upload."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, chunk: bytes) -> None:
        if self._size < HEAD_BYTES:
            self._parts.append(chunk[:HEAD_BYTES - self._size])
            self._size += len(self._parts[-1])

    @property
    def head(self) -> bytes:
        return b"".join(self._parts)


def image_size(head: bytes, *, displayed: bool) -> tuple[int, int] | None:
    """(width, height) of a JPEG or PNG from its first bytes; EXIF orientation applied when
    ``displayed``; None for anything else or a header cut short."""
    if head.startswith(_PNG) and len(head) >= 24 and head[12:16] == b"IHDR":
        width, height = struct.unpack(">II", head[16:24])
        return width, height
    if head.startswith(b"\xff\xd8"):
        found = _jpeg(head)
        if found is None:
            return None
        width, height, orientation = found
        if displayed and orientation in _QUARTER_TURNS:
            return height, width
        return width, height
    return None


def _jpeg(data: bytes) -> tuple[int, int, int] | None:
    """Width, height and EXIF orientation from a JPEG's markers (up to the first SOF)."""
    at, orientation = 2, 1
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        length = struct.unpack(">H", data[at + 2:at + 4])[0]
        segment = data[at + 4:at + 2 + length]
        if marker == 0xE1 and segment.startswith(b"Exif\x00\x00"):
            orientation = _orientation(segment[6:]) or orientation
        elif marker in _SOF and len(segment) >= 5:
            height, width = struct.unpack(">HH", segment[1:5])
            return width, height, orientation
        at += 2 + length
    return None


def _orientation(tiff: bytes) -> int | None:
    """The Orientation tag (0x0112) of IFD0 of an EXIF TIFF block."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return None
    order = "<" if tiff[:2] == b"II" else ">"
    ifd = struct.unpack(order + "I", tiff[4:8])[0]
    if ifd + 2 > len(tiff):
        return None
    count = struct.unpack(order + "H", tiff[ifd:ifd + 2])[0]
    for n in range(count):
        entry = tiff[ifd + 2 + 12 * n: ifd + 14 + 12 * n]
        if len(entry) == 12 and struct.unpack(order + "H", entry[:2])[0] == 0x0112:
            return int(struct.unpack(order + "H", entry[8:10])[0])
    return None
