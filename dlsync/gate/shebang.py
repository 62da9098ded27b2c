"""Shebang files: small uploaded JSON documents marked ``"shebang": "dataloop"``, read on upload.

dtlpy uploads a link item (``dl.UrlLink`` or ``dl.ItemLink``) as a file ``<name>_link.json``
holding ``{"type": "link", "shebang": "dataloop", "metadata": {"dltype": "link", "linkInfo":
{"type": "url"|"id", "ref": ..., "mimetype"?, "datasetId"?}}}``; prompt, report and GIS items
use the same envelope with another ``dltype``. The platform keeps the file (bytes, size, JSON
mimetype) and copies the envelope's ``metadata`` to the item's ``metadata.system.shebang``, where
dtlpy reads it: ``Item.resolved_stream`` and the downloader fetch a URL link from
``shebang.linkInfo.ref`` instead of ``/items/{id}/stream``.
"""

from __future__ import annotations

import json
from typing import Any

from dlsync.gate.refusal import bad_request

SHEBANG = "dataloop"
SNIFF_LIMIT = 64 << 10
JSON_MIMETYPE = "application/json"
_LINK_TYPES = ("url", "id")


def _check_link(shebang: dict[str, Any], path: str) -> None:
    info = shebang.get("linkInfo")
    if not isinstance(info, dict) or info.get("type") not in _LINK_TYPES:
        raise bad_request(f"link item {path}: metadata.linkInfo.type must be one of "
                          f"{list(_LINK_TYPES)}")
    if not isinstance(info.get("ref"), str) or not info["ref"]:
        raise bad_request(f"link item {path}: metadata.linkInfo.ref must be a non-empty string")


def read_shebang(data: bytes, path: str) -> dict[str, Any] | None:
    """The ``metadata.system.shebang`` of a JSON upload, or None if it is not a shebang file.

    A shebang file whose ``metadata`` says ``dltype: link`` must carry a usable ``linkInfo``
    (Refusal 400 otherwise): an item dtlpy would crash on is refused rather than stored.
    """
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(document, dict) or document.get("shebang") != SHEBANG:
        return None
    shebang = document.get("metadata")
    if not isinstance(shebang, dict):
        raise bad_request(f"shebang file {path}: 'metadata' must be a JSON object")
    if shebang.get("dltype") == "link":
        _check_link(shebang, path)
    return shebang


class ShebangSniffer:
    """Keeps the first bytes of a JSON upload so its shebang can be read once it is stored."""

    def __init__(self, mimetype: str) -> None:
        self._parts: list[bytes] | None = [] if mimetype == JSON_MIMETYPE else None
        self._size = 0

    def feed(self, chunk: bytes) -> None:
        """Note the next ``chunk`` of the upload (a no-op for other files, or past the limit)."""
        if self._parts is None:
            return
        self._size += len(chunk)
        if self._size > SNIFF_LIMIT:
            self._parts = None
        else:
            self._parts.append(chunk)

    def shebang(self, path: str) -> dict[str, Any] | None:
        """The shebang of the whole upload, if it was a small JSON shebang file."""
        return None if self._parts is None else read_shebang(b"".join(self._parts), path)
