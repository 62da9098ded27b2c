"""``read_up_to``: a whole file under the limit, one byte past it when the file is larger."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from dlsync.bounded import read_up_to


def _read(path: Path, limit: int) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return read_up_to(fd, limit)
    finally:
        os.close(fd)


@pytest.mark.parametrize(("size", "limit", "expected"), [
    (0, 10, 0),            # empty file
    (9, 10, 9),            # under the limit
    (10, 10, 10),          # exactly the limit
    (11, 10, 11),          # one over: limit + 1 bytes, so the caller refuses it
    (200_000, 10, 11),     # far over: still only limit + 1 bytes
    (200_000, 300_000, 200_000),  # larger than one follow-up piece
])
def test_reads_whole_file_or_one_byte_past_limit(tmp_path: Path, size: int, limit: int,
                                                  expected: int) -> None:
    data = bytes(i % 251 for i in range(size))
    (tmp_path / "f").write_bytes(data)
    assert _read(tmp_path / "f", limit) == data[:expected]


def test_reads_past_what_fstat_reported() -> None:
    """Bytes beyond the size ``fstat`` gave (a file that grew; here a pipe, whose size reads 0)
    are read on to the end, never cut at the stat's size, and still stop at the limit."""
    data = bytes(i % 251 for i in range(150_000))
    for limit, expected in ((1 << 20, data), (100_000, data[:100_001])):
        read_fd, write_fd = os.pipe()
        writer = threading.Thread(target=_write_all, args=(write_fd, data))
        writer.start()
        try:
            assert read_up_to(read_fd, limit) == expected
        finally:
            os.close(read_fd)
            writer.join()


def _write_all(fd: int, data: bytes) -> None:
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
    except BrokenPipeError:
        pass  # the reader stopped at its limit


def test_reads_from_the_current_position(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"0123456789")
    fd = os.open(path, os.O_RDONLY)
    try:
        os.read(fd, 4)
        assert read_up_to(fd, 100) == b"456789"
    finally:
        os.close(fd)
