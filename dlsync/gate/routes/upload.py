"""``POST /datasets/{id}/items``: one multipart file upload, or a form that makes a folder.

The ``file`` part is streamed into the blob store chunk by chunk and made durable before the
item is written and the answer sent. In ``skip`` mode an existing item is returned unchanged
(``x-item-op: skip``) and the upload is read and discarded.
"""

from __future__ import annotations

import json
import mimetypes
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, MultipartReader, web

from dlsync.constants import UPLOAD_CHUNK
from dlsync.gate import render
from dlsync.gate.blobs import BlobWriter
from dlsync.gate.context import API_PREFIX, GateContext, base_url, gate_of, user_of
from dlsync.gate.paths import clean_path
from dlsync.gate.refusal import bad_request
from dlsync.gate.store import Blob

routes = web.RouteTableDef()
OP_HEADER = "x-item-op"
_MAX_FIELD = 1 << 20


@dataclass
class _Upload:
    fields: dict[str, str] = field(default_factory=dict)
    blob: Blob | None = None
    skipped: dict[str, Any] | None = None


def _disposition(part: BodyPartReader, key: str) -> str | None:
    """A quoted parameter of the part's Content-Disposition (aiohttp's parser is slow)."""
    header = part.headers.get("Content-Disposition", "")
    match = re.search(rf'(?:^|;)\s*{key}="([^"\\]*)"', header)
    if match is not None:
        return match.group(1)
    return part.name if key == "name" else part.filename


def _text(name: str, raw: bytes) -> str:
    if len(raw) > _MAX_FIELD:
        raise bad_request(f"upload part {name!r} is larger than {_MAX_FIELD} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(f"upload part {name!r} is not UTF-8 text: {exc}") from exc


def _mimetype(path: str | None, part: BodyPartReader) -> str:
    guessed = mimetypes.guess_type(path or _disposition(part, "filename") or "")[0]
    declared = part.headers.get("Content-Type")
    if guessed:
        return guessed
    if declared and declared != "application/octet-stream":
        return declared
    return "application/octet-stream"


async def _store_file(gate: GateContext, part: BodyPartReader, path: str | None) -> Blob:
    writer: BlobWriter = gate.blobs.writer()
    try:
        while chunk := await part.read_chunk(UPLOAD_CHUNK):
            writer.write(chunk)
    except BaseException:
        writer.discard()
        raise
    sha256, size = writer.finish()
    return Blob(sha256=sha256, size=size, mimetype=_mimetype(path, part))


async def _drain(part: BodyPartReader) -> None:
    while await part.read_chunk(UPLOAD_CHUNK):
        pass


def _multipart(request: web.Request) -> MultipartReader:
    """A reader of the body's parts.

    It is told the body is ``multipart/mixed`` (same framing, same boundary): aiohttp then skips
    its per-part ``_charset_`` probe, which re-parses every Content-Disposition and costs more
    than the rest of an upload's parsing. Form-data semantics are applied here instead.
    """
    match = re.search(r'boundary="?([^";]+)"?', request.headers.get("Content-Type", ""))
    if match is None:
        raise bad_request("multipart upload without a boundary in its Content-Type")
    headers = {"Content-Type": f'multipart/mixed; boundary="{match.group(1)}"'}
    return MultipartReader(headers, request.content)


async def _read_parts(request: web.Request, dataset_id: str, overwrite: bool) -> _Upload:
    gate, upload = gate_of(request), _Upload()
    async for part in _multipart(request):
        if not isinstance(part, BodyPartReader):
            raise bad_request("nested multipart bodies are not accepted")
        name = _disposition(part, "name") or ""
        if name != "file":
            upload.fields[name] = _text(name, await part.read())
            continue
        path = upload.fields.get("path")
        existing = None
        if path is not None and not overwrite:
            existing = gate.store.item_at(dataset_id, clean_path(path))
        if existing is not None and existing["type"] == "file":
            upload.skipped = existing
            await _drain(part)
        else:
            upload.blob = await _store_file(gate, part, path)
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
    folder, op = gate_of(request).store.make_folder(dataset_id, form.get("path"),
                                                    user_of(request).email)
    return web.json_response(render.item(base_url(request), folder), headers={OP_HEADER: op})


@routes.post(API_PREFIX + "/datasets/{id}/items")
async def upload(request: web.Request) -> web.Response:
    """Store one uploaded file (``mode=skip|overwrite``) or create a folder."""
    dataset_id, mode = request.match_info["id"], request.query.get("mode", "skip")
    if mode not in ("skip", "overwrite"):
        raise bad_request(f"upload mode {mode!r} is not known; use skip or overwrite")
    store = gate_of(request).store
    store.require_dataset(dataset_id)
    if request.content_type == "application/x-www-form-urlencoded":
        return await _make_folder(request, dataset_id)
    if not request.content_type.startswith("multipart/"):
        raise bad_request(f"upload body must be multipart/form-data, got {request.content_type}")
    parts = await _read_parts(request, dataset_id, mode == "overwrite")
    if parts.fields.get("type", "file") != "file":
        raise bad_request(f"upload part 'type' must be 'file', got {parts.fields['type']!r}")
    path = clean_path(parts.fields.get("path"), "upload part 'path'")
    if parts.skipped is not None:
        item, op = parts.skipped, "skip"
    elif parts.blob is None:
        raise bad_request(f"upload of {path} has no 'file' part")
    else:
        item, op = store.put_file(
            dataset_id, path, parts.blob, metadata=_metadata(parts.fields.get("metadata")),
            description=parts.fields.get("description"), user=user_of(request).email,
            overwrite=mode == "overwrite")
    return web.json_response(render.item(base_url(request), item), headers={OP_HEADER: op})
