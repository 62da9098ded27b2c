"""Pure-Python COCO RLE against vectors pycocotools 2.0.11 produced."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlsync.formats import rle

# a 5x17 mask (rows), its pycocotools compressed counts and its run counts
MASK_ROWS = [
    "00100100000000100", "00000000011001000", "00001000001000001", "00001000010001000",
    "00000000000000000"]
COMPRESSED = ":1;1FOc00]O011;OD000:0G"
COUNTS = [10, 1, 11, 2, 1, 1, 20, 1, 1, 1, 2, 2, 13, 1, 1, 1, 1, 1, 11, 1, 2]


def column_major(rows: list[str]) -> bytes:
    return bytes(int(rows[r][c]) for c in range(len(rows[0])) for r in range(len(rows)))


def test_counts_and_string_match_pycocotools() -> None:
    """Run counts and the compressed string equal pycocotools' for a known mask."""
    counts = rle.encode_counts(column_major(MASK_ROWS))
    assert counts == COUNTS
    assert rle.to_string(counts) == COMPRESSED
    assert rle.from_string(COMPRESSED) == COUNTS


def test_full_mask_starts_with_empty_zero_run() -> None:
    """A mask of all ones starts with a zero-length run of zeros (pycocotools: '0]:')."""
    counts = rle.encode_counts(b"\x01" * 333)
    assert counts == [0, 333] and rle.to_string(counts) == "0]:"


def test_large_counts_with_negative_differences() -> None:
    """Multi-group numbers and negative differences (pycocotools vector, 500x400 mask)."""
    counts = [400, 1, 499, 1, 499, 1, 1109, 290]
    assert "`<1c?000Rc0Q9mSO".startswith(rle.to_string(counts))
    assert rle.from_string(rle.to_string(counts)) == counts


def test_decode_checks_the_area() -> None:
    """Counts that do not add up to height x width are refused."""
    with pytest.raises(rle.RleError, match="add up to 3"):
        rle.decode_counts([1, 2], 4)
    with pytest.raises(rle.RleError, match="non-negative"):
        rle.decode_counts([-1, 5], 4)


@pytest.mark.parametrize("text", ["0", "\x7f"])
def test_bad_compressed_strings(text: str) -> None:
    """A string that stops inside a number, or holds a foreign character, is refused."""
    with pytest.raises(rle.RleError):
        rle.from_string(text + "P")


@given(st.binary(max_size=300).map(lambda b: bytes(x & 1 for x in b)))
def test_round_trip(mask: bytes) -> None:
    """decode(encode(mask)) is the mask, through the compressed string too."""
    counts = rle.encode_counts(mask)
    assert rle.decode_counts(rle.from_string(rle.to_string(counts)), len(mask)) == mask
