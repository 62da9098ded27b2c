"""A large file's streamed form part: a file that shrinks while it is sent fails by its path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dlsync import constants
from dlsync.errors import LocalFileError
from dlsync.remote import transfer
from dlsync.remote.bandwidth import Bandwidth
from dlsync.remote.stall import StallWatch


class _Sink:
    """Takes what the part writes."""

    def __init__(self) -> None:
        self.sent = 0

    async def write(self, data: bytes) -> None:
        self.sent += len(data)


async def test_a_file_that_shrinks_while_streamed_is_named_by_its_path(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(b"x" * (constants.SMALL_FILE_BYTES + 10))
    content, size = transfer._file_content(path)
    assert not isinstance(content, bytes), "a file over SMALL_FILE_BYTES is streamed"
    try:
        os.truncate(path, 100)
        flow = transfer._Flow(size, Bandwidth(None), StallWatch(30.0), str(path))
        part = transfer._FilePart(content, flow, filename="big.bin",
                                  content_type="application/octet-stream")
        sink = _Sink()
        with pytest.raises(LocalFileError) as caught:
            await part.write(sink)  # type: ignore[arg-type]
    finally:
        content.close()
    assert str(path) in str(caught.value)
    assert "shrank while it was uploaded" in str(caught.value)
    assert sink.sent == 100
