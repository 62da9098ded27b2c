"""``POST /datasets/{id}/items``: one multipart file upload, or a form that makes a folder.

The ``file`` part is streamed into the blob store chunk by chunk and made durable before the
item is written and the answer sent. In ``skip`` mode an existing item is returned unchanged
(``x-item-op: skip``, or what ``GateBehaviour.skip_op_header`` says) and the upload is read
and discarded. Every upload has the same URL, so the
fault schedule (``faults.py``) counts attempts per uploaded path, which is known once the form
fields before the file part are read; a failed attempt reads and discards the file.
"""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web

from dlsync.gate import render
from dlsync.gate.blobs import BlobWriter
from dlsync.gate.context import API_PREFIX, GateContext, base_url, gate_of, user_of
from dlsync.gate.documents import Blob, FileUpload
from dlsync.gate.faults import INJECTED_ERROR, UPLOAD_ROUTE
from dlsync.gate.imagesize import HeadKeeper, image_size
from dlsync.gate.multipart import FormReader, PartHead, boundary_of
from dlsync.gate.paths import clean_path
from dlsync.gate.refusal import Refusal, bad_request
from dlsync.gate.routes.bodies import media_type
from dlsync.gate.shebang import ShebangSniffer

routes = web.RouteTableDef()
OP_HEADER = "x-item-op"
_MAX_FIELD = 1 << 20


@dataclass
class _Upload:
    fields: dict[str, str] = field(default_factory=dict)
    blob: Blob | None = None
    skipped: dict[str, Any] | None = None


def _text(name: str, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(f"upload part {name!r} is not UTF-8 text: {exc}") from exc


def _mimetype(path: str | None, head: PartHead) -> str:
    guessed = mimetypes.guess_type(path or head.filename or "")[0]
    if guessed:
        return guessed
    if head.content_type and head.content_type != "application/octet-stream":
        return head.content_type
    return "application/octet-stream"


async def _store_file(gate: GateContext, form: FormReader, part: PartHead,
                      path: str | None) -> Blob:
    writer: BlobWriter = gate.blobs.writer()
    mimetype = _mimetype(path, part)
    sniffer = ShebangSniffer(mimetype)
    head = HeadKeeper() if mimetype.startswith("image/") else None
    try:
        while chunk := await form.read_chunk():
            writer.write(chunk)
            sniffer.feed(chunk)
            if head is not None:
                head.feed(chunk)
    except BaseException:
        writer.discard()
        raise
    sha256, size = writer.finish()
    displayed = gate.store.behaviour.exif_displayed_frame
    return Blob(sha256=sha256, size=size, mimetype=mimetype,
                shebang=sniffer.shebang(path or part.filename or ""),
                dimensions=image_size(head.head, displayed=displayed) if head else None)


def _scheduled_failure(request: web.Request, path: str | None) -> Refusal | None:
    """The 503 the fault schedule holds for this attempt at uploading ``path``, if any."""
    faults = gate_of(request).faults
    if not faults.applies_to(UPLOAD_ROUTE):
        return None
    verdict = faults.scheduled(f"{request.method} {request.path} {path}")
    return None if verdict.status is None else Refusal(verdict.status, INJECTED_ERROR)


async def _read_parts(request: web.Request, dataset_id: str, overwrite: bool) -> _Upload:
    gate, upload = gate_of(request), _Upload()
    form = FormReader(request.content, boundary_of(request.headers.get("Content-Type", "")))
    while (head := await form.next_part()) is not None:
        if head.name != "file":
            upload.fields[head.name] = _text(head.name, await form.read_all(_MAX_FIELD,
                                                                            head.name))
            continue
        path = upload.fields.get("path")
        if (failure := _scheduled_failure(request, path)) is not None:
            while await form.read_chunk():
                pass
            raise failure
        existing = None
        if path is not None and not overwrite:
            existing = gate.store.item_at(dataset_id, clean_path(path))
        if existing is not None and existing["type"] == "file":
            upload.skipped = existing
            while await form.read_chunk():
                pass
        else:
            upload.blob = await _store_file(gate, form, head, path)
    return upload


def _metadata(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise bad_request(f"upload part 'metadata' is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise bad_request("upload part 'metadata' must be a JSON object")
    return value


async def _make_folder(request: web.Request, dataset_id: str) -> web.Response:
    form = await request.post()
    if form.get("type") != "dir":
        raise bad_request("a form upload must be type=dir with a path; files need multipart")
    path = form.get("path")
    failure = _scheduled_failure(request, path if isinstance(path, str) else None)
    if failure is not None:
        raise failure
    folder, op = gate_of(request).store.make_folder(dataset_id, path, user_of(request).email)
    return web.json_response(render.item(base_url(request), folder), headers={OP_HEADER: op})


@routes.post(API_PREFIX + "/datasets/{id}/items")
async def upload(request: web.Request) -> web.Response:
    """Store one uploaded file (``mode=skip|overwrite``) or create a folder."""
    dataset_id, mode = request.match_info["id"], request.query.get("mode", "skip")
    if mode not in ("skip", "overwrite"):
        raise bad_request(f"upload mode {mode!r} is not known; use skip or overwrite")
    store = gate_of(request).store
    store.require_dataset(dataset_id)
    media = media_type(request)
    if media == "application/x-www-form-urlencoded":
        return await _make_folder(request, dataset_id)
    if not media.startswith("multipart/"):
        raise bad_request(f"upload body must be multipart/form-data, got {media or 'none'}")
    parts = await _read_parts(request, dataset_id, mode == "overwrite")
    if parts.fields.get("type", "file") != "file":
        raise bad_request(f"upload part 'type' must be 'file', got {parts.fields['type']!r}")
    path = clean_path(parts.fields.get("path"), "upload part 'path'")
    applies_metadata = store.behaviour.upload_applies_metadata
    if parts.skipped is not None:
        item, op = parts.skipped, "skip"
    elif parts.blob is None:
        raise bad_request(f"upload of {path} has no 'file' part")
    else:
        metadata = _metadata(parts.fields.get("metadata"))
        blob = parts.blob
        if gate_of(request).faults.settings.truncate_uploads and blob.size > 0:
            blob = replace(blob, size=blob.size - 1)  # recorded one byte short
        upload = FileUpload(path, blob, metadata=metadata if applies_metadata else None,
                            description=parts.fields.get("description"))
        item, op = store.put_file(dataset_id, upload, user=user_of(request).email,
                                  overwrite=mode == "overwrite")
        if op == "overwrite":
            gate_of(request).stats.destroyed_some("overwritten", 1)
    if op == "skip":
        op = store.behaviour.skip_op_header
    return web.json_response(render.item(base_url(request), item),
                             headers={OP_HEADER: op} if op else None)
