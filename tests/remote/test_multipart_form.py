"""The one-buffer upload form: its file part's header is aiohttp's, for any file name."""

from __future__ import annotations

from aiohttp.helpers import content_disposition_header
from hypothesis import given
from hypothesis import strategies as st

from dlsync.remote.multipart import form_payload

NAMES = st.text(min_size=1, max_size=20).filter(
    lambda name: not any(ord(c) < 32 or ord(c) == 127 for c in name)) | \
    st.from_regex(r"[A-Za-z0-9_.~-]{1,20}", fullmatch=True)


@given(NAMES)
def test_file_part_disposition_is_aiohttps(name: str) -> None:
    payload = form_payload({"type": "file"}, filename=name, content_type="image/jpeg",
                           data=b"xyz")
    body = bytes(payload._value)
    header = "Content-Disposition: " + content_disposition_header("form-data", name="file",
                                                                  filename=name)
    assert header.encode("latin-1") + b"\r\n\r\nxyz\r\n" in body
