"""The streaming form reader: parts, contents split at any chunk edge, and truncated bodies."""

from __future__ import annotations

import asyncio
from unittest import mock

import pytest
from aiohttp import StreamReader
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dlsync.gate.multipart import FormReader, boundary_of
from dlsync.gate.refusal import Refusal

BOUNDARY = "b0undary"


def _body(parts: list[tuple[str, bytes]]) -> bytes:
    out = b"preamble ignored"
    for name, content in parts:
        filename = '; filename="f.bin"' if name == "file" else ""
        out += (f"\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"{filename}"
                f"\r\nContent-Type: application/octet-stream\r\n\r\n").encode() + content
    return out + f"\r\n--{BOUNDARY}--\r\n".encode()


async def _read(body: bytes, cut: int) -> dict[str, bytes]:
    stream = StreamReader(mock.Mock(_reading_paused=False), 2**16, loop=asyncio.get_running_loop())
    for start in range(0, len(body), cut):
        stream.feed_data(body[start:start + cut])
    stream.feed_eof()
    form, found = FormReader(stream, BOUNDARY), {}
    while (head := await form.next_part()) is not None:
        found[head.name] = await form.read_all(1 << 20, head.name)
    return found


@settings(max_examples=40, deadline=None)
@given(content=st.binary(max_size=3000), cut=st.integers(1, 700))
async def test_parts_survive_any_chunking(content: bytes, cut: int) -> None:
    """Field and file contents come back byte for byte however the body is chunked."""
    payload = content + b"\r\n--b0undar" + content
    assume(b"\r\n--" + BOUNDARY.encode() not in b"\r\n" + payload)  # b"y..." would end the part
    found = await _read(_body([("type", b"file"), ("path", b"/a.bin"), ("file", payload)]), cut)
    assert found == {"type": b"file", "path": b"/a.bin", "file": payload}


async def test_truncated_body_is_refused() -> None:
    """A body without its closing boundary is refused with a message."""
    body = _body([("file", b"x" * 100)])[:-20]
    with pytest.raises(Refusal) as refused:
        await _read(body, 64)
    assert "closing boundary" in refused.value.message


def test_boundary_is_read_from_content_type() -> None:
    """The boundary comes from the Content-Type, quoted or not; none is a 400."""
    assert boundary_of('multipart/form-data; boundary="abc"') == "abc"
    assert boundary_of("multipart/form-data; boundary=abc") == "abc"
    with pytest.raises(Refusal):
        boundary_of("multipart/form-data")
