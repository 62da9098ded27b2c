"""COCO run-length encoding of binary masks, in pure Python.

A COCO RLE is ``{"size": [height, width], "counts": ...}``: the lengths of alternating runs of
0s and 1s over the mask read in column-major order (down the first column, then the next),
starting with a run of 0s (which may be empty). ``counts`` is either that list of ints (the
"uncompressed" form COCO uses for ``iscrowd`` objects) or the compressed string pycocotools
writes (``rleToString``): each count, from the fourth on less the count two before it, as
little-endian 5-bit groups with a continuation bit (0x20) and a sign bit (0x10) in the last
group, each group plus 48 as an ASCII character.

This module is pycocotools' ``rleToString`` / ``rleFrString`` and the run counting, without its
compiled extension and numpy; masks are ``bytes`` of 0s and 1s in column-major order.
"""

from __future__ import annotations

from collections.abc import Sequence

ZERO, ONE = b"\x00", b"\x01"


class RleError(ValueError):
    """Counts that do not describe a mask of the stated size."""


def encode_counts(mask: bytes) -> list[int]:
    """Run lengths of a column-major 0/1 ``mask``, starting with the 0s."""
    counts: list[int] = []
    position, looking_for = 0, ONE
    while position < len(mask):
        found = mask.find(looking_for, position)
        end = len(mask) if found < 0 else found
        counts.append(end - position)
        position = end
        looking_for = ZERO if looking_for == ONE else ONE
    return counts


def decode_counts(counts: Sequence[int], area: int) -> bytes:
    """The column-major 0/1 mask of ``area`` pixels the run lengths describe."""
    if any(isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in counts):
        raise RleError("counts must be non-negative integers")
    if sum(counts) != area:
        raise RleError(f"counts add up to {sum(counts)}, not height x width = {area}")
    return b"".join((ONE if i % 2 else ZERO) * c for i, c in enumerate(counts))


def to_string(counts: Sequence[int]) -> str:
    """The compressed string form of ``counts`` (pycocotools ``rleToString``)."""
    text: list[str] = []
    for i, count in enumerate(counts):
        value = count - counts[i - 2] if i > 2 else count
        more = True
        while more:
            group = value & 0x1F
            value >>= 5
            more = value != -1 if group & 0x10 else value != 0
            text.append(chr((group | 0x20 if more else group) + 48))
    return "".join(text)


def from_string(text: str) -> list[int]:
    """The counts of a compressed string (pycocotools ``rleFrString``)."""
    counts: list[int] = []
    position = 0
    while position < len(text):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(text):
                raise RleError("compressed counts end inside a number")
            group = ord(text[position]) - 48
            if not 0 <= group < 64:
                raise RleError(f"character {text[position]!r} is not in compressed counts")
            value |= (group & 0x1F) << shift
            more = bool(group & 0x20)
            position, shift = position + 1, shift + 5
            if not more and group & 0x10:
                value |= -1 << shift
        counts.append(value + counts[-2] if len(counts) > 2 else value)
    return counts
