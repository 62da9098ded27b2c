"""``TransferOps``: an item's bytes, uploaded as a streamed multipart form and downloaded
with Range resumes, both within the remote's ``bwlimit``.

An upload up to ``blind_retry_max_size`` bytes is a SAFE call: the pacer re-sends it after any
transport error (with ``mode=skip`` or ``overwrite`` a repeat cannot change the outcome, it
only costs the bytes). A larger one is never re-sent blindly: the item is looked up first
(``_landed``), and only sent again when the failed attempt did not leave it there.
"""

from __future__ import annotations

import functools
import mimetypes
import os
import posixpath
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal, cast

import aiohttp
import anyio
from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import BytesPayload, Payload

from dlsync import constants, logs
from dlsync.bounded import READ_FLAGS, read_up_to
from dlsync.errors import (
    AmbiguousWriteError,
    BadRequestError,
    LocalFileError,
    NotFoundError,
    ServerError,
    TransportError,
    TruncatedUploadError,
)
from dlsync.remote import replies, wire
from dlsync.remote.bandwidth import Bandwidth
from dlsync.remote.calls import SAFE, UNSAFE
from dlsync.remote.items import ItemOps
from dlsync.remote.multipart import form_payload
from dlsync.remote.pacer import Idempotency
from dlsync.remote.session import Request
from dlsync.remote.stall import StallWatch
from dlsync.remote.types import CheckedFile, ItemJson, UploadOp, UploadResult

UploadMode = Literal["skip", "overwrite"]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

log = logs.get_logger(__name__)


class TransferOps(ItemOps):
    """Upload a local file as an item; download an item's bytes."""

    async def upload(self, dataset_id: str, local_path: str | Path | CheckedFile,
                     filename: str, *, mode: UploadMode = "skip",
                     metadata: dict[str, Any] | None = None) -> UploadResult:
        """Upload ``local_path`` as item ``filename``, streamed from disk.

        ``metadata`` is sent as the ``metadata`` form part (``{"user": {...}}``). Raises
        ``TruncatedUploadError`` when the reply's ``metadata.system.size`` of a created or
        overwritten item differs from the bytes sent (a skipped upload returns the existing
        item, which the caller compares by fingerprint). A ``CheckedFile`` carries the size
        its caller has just checked (one stat fewer); the size only chooses how a failure is
        retried. Its ``content``, when set, is sent instead of the file's bytes on disk.
        """
        path: str | Path
        if isinstance(local_path, CheckedFile):
            path, size, content = local_path.path, local_path.size, local_path.content
        else:
            path, size, content = local_path, None, None
        what = f"upload {path} as {filename!r} to dataset {dataset_id}"
        if _CONTROL.search(filename):  # cannot go in a form header
            raise BadRequestError(f"{what}: the name contains a control character, which item "
                                  "names cannot hold; rename the file to sync it",
                                  method="POST", url=f"/datasets/{dataset_id}/items")
        body = _FileBody(path, filename, metadata, self.bandwidth, content)
        upload = _Upload(dataset_id, body, mode, what)
        if (_size_of(path) if size is None else size) <= self.settings.blind_retry_max_size:
            return await self._send_upload(upload, SAFE)
        return await self._upload_looked_up(upload)

    async def _upload_looked_up(self, upload: _Upload) -> UploadResult:
        """Upload a large file; after an ambiguous failure, look the item up before resending.

        The item as it was before the first attempt tells an overwrite that landed (the
        item's ``updatedAt`` moved) from one that did not.
        """
        before = await self._find_item(upload)
        budget = self.pacer.retry_budget(upload.what)
        while True:
            try:
                return await self._send_upload(upload, UNSAFE)
            except (AmbiguousWriteError, ServerError) as exc:
                landed = _landed(upload, before, await self._find_item(upload))
                if landed is not None:
                    log.info("upload failed without a reply, but the item is there; not sent "
                             "again", what=upload.what, item=landed.item["id"],
                             error=str(exc))
                    return landed
                if not await budget.wait(exc, then="send again: the item is not there"):
                    raise

    async def _find_item(self, upload: _Upload) -> ItemJson | None:
        try:
            return await self.get_item_by_path(upload.dataset_id, upload.body.filename)
        except NotFoundError:
            return None

    async def _send_upload(self, upload: _Upload, idempotency: Idempotency) -> UploadResult:
        body = upload.body
        reply, req = await self._call("POST", f"/datasets/{upload.dataset_id}/items",
                                      upload.what, idempotency, params={"mode": upload.mode},
                                      body=body.open)
        item = cast(ItemJson, replies.entity(reply.body, req))
        op = UploadOp.from_header(reply.headers.get("x-item-op"))
        size = _item_size(item)
        if size != body.size and op is not UploadOp.EXISTING:  # a skip returns the old item
            raise TruncatedUploadError(f"{upload.what}: sent {body.size} bytes but the remote "
                                       f"item {item['id']} ({op}) has size {size}", item["id"],
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
                        await self.bandwidth.take(len(chunk))
                        yield chunk
                return
            except TransportError as exc:
                if not await budget.wait(exc, then=f"resume from byte {have} with Range"):
                    raise


@dataclass(frozen=True, slots=True)
class _Upload:
    """One upload as its attempts share it: where to, what, how."""

    dataset_id: str
    body: _FileBody
    mode: UploadMode
    what: str


def _item_size(item: ItemJson) -> object:
    return (item.get("metadata") or {}).get("system", {}).get("size")


def _landed(upload: _Upload, before: ItemJson | None,
            after: ItemJson | None) -> UploadResult | None:
    """The result a failed attempt left behind, or ``None`` when it must be sent again.

    The item is there, of the size sent, and: with ``mode=skip`` it was there before (the
    upload would have answered "existing") or carries the metadata sent; with
    ``mode=overwrite`` it was not there before, or its ``updatedAt`` moved.
    """
    body = upload.body
    if after is None or _item_size(after) != body.size:
        return None
    if before is None:
        sent = (body.metadata or {}).get("user") or {}
        user = (after.get("metadata") or {}).get("user") or {}
        if all(user.get(key) == value for key, value in sent.items()):
            return UploadResult(item=after, op=UploadOp.CREATED, size=body.size)
        return None
    if upload.mode == "skip":
        return UploadResult(item=after, op=UploadOp.EXISTING, size=body.size)
    if after.get("updatedAt") != before.get("updatedAt") or after["id"] != before["id"]:
        return UploadResult(item=after, op=UploadOp.OVERWRITE, size=body.size)
    return None


class _FileBody:
    """The multipart body of one upload (type, path, metadata, file), streamed from disk, or
    from ``content`` when the caller already holds the file's bytes.

    Re-opened for each attempt; ``size`` is the byte count sent by the last attempt.
    """

    def __init__(self, path: str | Path, filename: str, metadata: dict[str, Any] | None,
                 bandwidth: Bandwidth, content: bytes | None = None) -> None:
        self.path = path
        self.filename = filename
        self.metadata = metadata
        self.bandwidth = bandwidth
        self.content = content
        self.size = -1

    @asynccontextmanager
    async def open(self, watch: StallWatch) -> AsyncIterator[aiohttp.FormData | BytesPayload]:
        """Yield the form for one attempt: a small file's as one buffer, a larger file's
        streamed from disk (and closed afterwards)."""
        content, self.size = (self.content, len(self.content)) if self.content is not None \
            else _file_content(self.path)
        name = posixpath.basename(self.filename)
        content_type = _content_type(name[name.find("."):] if "." in name else "")
        fields = {"type": "file", "path": self.filename}
        if self.metadata is not None:
            fields["metadata"] = wire.dumps(self.metadata).decode("utf-8")
        if isinstance(content, bytes):
            await self.bandwidth.take(len(content))  # before the watch starts
            yield form_payload(fields, filename=name, content_type=content_type, data=content)
            return
        try:
            form = aiohttp.FormData()
            for key, value in fields.items():
                form.add_field(key, value)
            part = _FilePart(content, _Flow(self.size, self.bandwidth, watch, str(self.path)),
                             filename=name, content_type=content_type)
            form.add_field("file", part, filename=name)
            yield form
        finally:
            content.close()


@dataclass(frozen=True, slots=True)
class _Flow:
    """What a streamed file part answers to: its length, the byte budget, the stall watch, and
    the local path its errors name."""

    size: int
    bandwidth: Bandwidth
    watch: StallWatch
    path: str


class _FilePart(Payload):
    """A file streamed as a form part: read in a worker thread, paced by ``bwlimit``, each
    piece reported to the stall watch. Exactly ``size`` bytes (the Content-Length) are sent."""

    def __init__(self, handle: BinaryIO, flow: _Flow, *, filename: str,
                 content_type: str) -> None:
        super().__init__(handle, filename=filename, content_type=content_type)
        self._size = flow.size
        self._flow = flow

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        raise TypeError("a streamed file part has no text form")

    async def write(self, writer: AbstractStreamWriter) -> None:
        """Write the file, piece by piece, as the byte budget allows."""
        flow, handle = self._flow, cast(BinaryIO, self._value)
        left = flow.size
        flow.watch.body_started()
        while left > 0:
            piece = await anyio.to_thread.run_sync(handle.read,
                                                   min(left, constants.UPLOAD_CHUNK))
            if not piece:
                raise LocalFileError(flow.path,
                                     "shrank while it was uploaded; retried once it settles")
            with flow.watch.paused():
                await flow.bandwidth.take(len(piece))
            await writer.write(piece)
            flow.watch.moved()
            left -= len(piece)
        flow.watch.body_sent()

    async def write_with_length(self, writer: AbstractStreamWriter,
                                content_length: int | None) -> None:
        """Write the file (its length is already the part's length)."""
        await self.write(writer)


@functools.lru_cache(maxsize=256)
def _content_type(suffix: str) -> str:
    """The MIME type ``mimetypes`` guesses for a name whose suffixes (from its first dot) are
    ``suffix``: the guess reads nothing else, so one per suffix is kept."""
    return mimetypes.guess_type("f" + suffix)[0] or "application/octet-stream"


def _size_of(path: str | Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError as exc:
        raise LocalFileError(str(path), f"cannot be read for upload: {exc.strerror}") from None


def _file_content(path: str | Path) -> tuple[bytes | BinaryIO, int]:
    """What to send for ``path`` and its size: the bytes of a small file, else the open file.

    Files up to ``SMALL_FILE_BYTES`` are read in one call on the event loop (cheaper than a
    thread hand-off); larger ones are streamed by ``_FilePart``, read in a worker thread.
    """
    try:
        fd = os.open(path, READ_FLAGS)
    except OSError as exc:
        raise LocalFileError(str(path), f"cannot be read for upload: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if st.st_size > constants.SMALL_FILE_BYTES:
            handle = os.fdopen(fd, "rb")
            fd = -1  # the handle closes it
            return handle, st.st_size
        data = read_up_to(fd, constants.SMALL_FILE_BYTES, st)
    except OSError as exc:
        raise LocalFileError(str(path), f"read failed: {exc.strerror}") from None
    finally:
        if fd >= 0:
            os.close(fd)
    return data, len(data)
