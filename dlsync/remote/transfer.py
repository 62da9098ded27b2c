"""``TransferOps``: an item's bytes, uploaded as a streamed multipart form and downloaded
with Range resumes."""

from __future__ import annotations

import json
import mimetypes
import os
import posixpath
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, BinaryIO, Literal, cast

import aiohttp

from dlsync import constants
from dlsync.errors import BadRequestError, LocalFileError, TransportError, TruncatedUploadError
from dlsync.remote import replies
from dlsync.remote.calls import SAFE, ClientCore
from dlsync.remote.session import Request
from dlsync.remote.types import ItemJson, UploadOp, UploadResult

UploadMode = Literal["skip", "overwrite"]


class TransferOps(ClientCore):
    """Upload a local file as an item; download an item's bytes."""

    async def upload(self, dataset_id: str, local_path: Path, filename: str, *,
                     mode: UploadMode = "skip",
                     metadata: dict[str, Any] | None = None) -> UploadResult:
        """Upload ``local_path`` as item ``filename``, streamed from disk.

        ``metadata`` is sent as the ``metadata`` form part (``{"user": {...}}``). Raises
        ``TruncatedUploadError`` when the reply's ``metadata.system.size`` of a created or
        overwritten item differs from the bytes sent (a skipped upload returns the existing
        item, which the caller compares by fingerprint).
        """
        what = f"upload {local_path} as {filename!r} to dataset {dataset_id}"
        if any(ord(c) < 32 or ord(c) == 127 for c in filename):  # cannot go in a form header
            raise BadRequestError(f"{what}: the name contains a control character, which item "
                                  "names cannot hold; rename the file to sync it",
                                  method="POST", url=f"/datasets/{dataset_id}/items")
        body = _FileBody(local_path, filename, metadata)
        reply, req = await self._call("POST", f"/datasets/{dataset_id}/items", what,
                                      params={"mode": mode}, body=body.open)
        item = cast(ItemJson, replies.entity(reply.body, req))
        op = UploadOp.from_header(reply.headers.get("x-item-op"))
        size = (item.get("metadata") or {}).get("system", {}).get("size")
        if size != body.size and op is not UploadOp.EXISTING:  # a skip returns the old item
            raise TruncatedUploadError(f"{what}: sent {body.size} bytes but the remote item "
                                       f"{item['id']} ({op}) has size {size}", item["id"],
                                       method="POST", url=req.path)
        return UploadResult(item=item, op=op, size=body.size)

    async def download(self, item_id: str, *, offset: int = 0) -> AsyncIterator[bytes]:
        """The item's bytes from ``offset``, in chunks; a broken stream resumes with Range.

        A stream that breaks mid-body is resumed from the bytes received so far; when, and how
        often, is the pacer's ``RetryBudget`` (backoff, attempt cap, total wait).
        """
        have = offset
        budget = self.pacer.retry_budget(f"download item {item_id}")
        while True:
            req = Request("GET", f"/items/{item_id}/stream", f"download item {item_id}", SAFE,
                          headers={"x-dl-sanitize": "0", "Range": f"bytes={have}-"})
            response = await self._session.open_stream(req)
            skip = have if response.status == 200 else 0  # the remote ignored Range
            try:
                async for chunk in self._session.iter_body(response, constants.UPLOAD_CHUNK,
                                                           req):
                    chunk, skip = chunk[skip:], max(0, skip - len(chunk))
                    have += len(chunk)
                    if chunk:
                        yield chunk
                return
            except TransportError as exc:
                if not await budget.wait(exc, then=f"resume from byte {have} with Range"):
                    raise


class _FileBody:
    """The multipart body of one upload (type, path, metadata, file), streamed from disk.

    Re-opened for each attempt; ``size`` is the byte count sent by the last attempt.
    """

    def __init__(self, path: Path, filename: str, metadata: dict[str, Any] | None) -> None:
        self.path = path
        self.filename = filename
        self.metadata = metadata
        self.size = -1

    @asynccontextmanager
    async def open(self) -> AsyncIterator[aiohttp.FormData]:
        """Yield the form for one attempt; a streamed file is closed afterwards."""
        content, self.size = _file_content(self.path)
        try:
            form = aiohttp.FormData()
            form.add_field("type", "file")
            form.add_field("path", self.filename)
            if self.metadata is not None:
                form.add_field("metadata", json.dumps(self.metadata))
            name = posixpath.basename(self.filename)
            form.add_field("file", content, filename=name,
                           content_type=mimetypes.guess_type(name)[0]
                           or "application/octet-stream")
            yield form
        finally:
            if not isinstance(content, bytes):
                content.close()


def _file_content(path: Path) -> tuple[bytes | BinaryIO, int]:
    """What to send for ``path`` and its size: the bytes of a small file, else the open file.

    Files up to ``SMALL_FILE_BYTES`` are read in one call on the event loop (cheaper than a
    thread hand-off); larger ones are streamed by aiohttp, which reads them in a worker thread.
    """
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise LocalFileError(str(path), f"cannot be read for upload: {exc.strerror}") from None
    size = os.fstat(handle.fileno()).st_size
    if size > constants.SMALL_FILE_BYTES:
        return handle, size
    with handle:
        data = handle.read(constants.SMALL_FILE_BYTES + 1)
    return data, len(data)
