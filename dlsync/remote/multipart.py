"""The multipart form of a small upload, built as one buffer.

aiohttp's ``FormData`` writes every part header, boundary and body as its own socket write
(about eighteen for an upload form); a file read in one call goes out as one buffer instead,
so the whole request leaves in one or two writes. The parts and their headers are the ones
``FormData`` sends (text fields as ``text/plain; charset=utf-8``, the file part's
``Content-Disposition`` from aiohttp's own ``content_disposition_header``), so a server reads
the same form. Larger files keep the streamed ``FormData`` path (``transfer._FilePart``).
"""

from __future__ import annotations

import re

from aiohttp.helpers import content_disposition_header
from aiohttp.payload import BytesPayload

from dlsync.remote.nonce import nonce

_TEXT = b"Content-Type: text/plain; charset=utf-8\r\n"
_UNQUOTED = re.compile(r"[A-Za-z0-9_.~-]+")
"""A file name aiohttp's ``content_disposition_header`` writes as it is (percent-quoting leaves
these characters alone), so the header can be written directly."""


def form_payload(fields: dict[str, str], *, filename: str, content_type: str,
                 data: bytes) -> BytesPayload:
    """``fields`` (name → text) and the file part ``file`` as one multipart/form-data body."""
    boundary = nonce()
    dash = b"--" + boundary.encode("ascii")
    chunks: list[bytes] = []
    for name, value in fields.items():
        chunks += [dash, b"\r\n", _TEXT,
                   f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode("ascii"),
                   value.encode("utf-8"), b"\r\n"]
    disposition = f'form-data; name="file"; filename="{filename}"' \
        if _UNQUOTED.fullmatch(filename) else \
        content_disposition_header("form-data", name="file", filename=filename)
    chunks += [dash, b"\r\n", f"Content-Type: {content_type}\r\n".encode("latin-1"),
               f"Content-Disposition: {disposition}\r\n\r\n".encode("latin-1"),
               data, b"\r\n", dash, b"--\r\n"]
    return BytesPayload(b"".join(chunks),
                        content_type=f"multipart/form-data; boundary={boundary}")
