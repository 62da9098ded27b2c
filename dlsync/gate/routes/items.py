"""Items: get, patch (a new filename moves it), delete, stream content, bulk move."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from dlsync.gate import render
from dlsync.gate.context import API_PREFIX, GateContext, base_url, gate_of, user_of
from dlsync.gate.refusal import Refusal, bad_request
from dlsync.gate.routes.bodies import json_body, ok

routes = web.RouteTableDef()
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


def _item_blob(gate: GateContext, item_id: str) -> tuple[dict[str, Any], str | None]:
    """A stored item or an export's output item, with the sha256 of its content."""
    return gate.exports.output(item_id) or gate.store.item_blob(item_id)


@routes.get(API_PREFIX + "/items/{id}")
async def get(request: web.Request) -> web.Response:
    """One item by id."""
    item, _ = _item_blob(gate_of(request), request.match_info["id"])
    return ok(render.item(base_url(request), item))


@routes.patch(API_PREFIX + "/items/{id}")
async def patch(request: web.Request) -> web.Response:
    """Apply a diff; ``?system=true`` allows system metadata and moves."""
    store, user = gate_of(request).store, user_of(request).email
    system = request.query.get("system", "false").lower() == "true"
    updated = store.patch_item(request.match_info["id"], await json_body(request),
                               system=system, user=user)
    return ok(render.item(base_url(request), updated))


@routes.delete(API_PREFIX + "/items/{id}")
async def delete(request: web.Request) -> web.Response:
    """Delete an item (a folder with its contents) and its annotations."""
    gate_of(request).store.delete_item(request.match_info["id"])
    gate_of(request).stats.destroyed_some("items", 1)
    return ok({"message": "deleted"})


@routes.put(API_PREFIX + "/datasets/{id}/items/{folderId}")
async def move(request: web.Request) -> web.Response:
    """Move the items listed by id into a folder item; ids are kept."""
    store = gate_of(request).store
    moved = store.move_items(request.match_info["id"], request.match_info["folderId"],
                             await json_body(request), user_of(request).email)
    base = base_url(request)
    return ok([render.item(base, i) for i in moved])


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end exclusive) of a ``Range: bytes=N-[M]`` header, None for the whole content."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        raise bad_request(f"unsupported Range header {header!r}; use bytes=N- or bytes=N-M")
    start = int(match.group(1))
    end = int(match.group(2)) + 1 if match.group(2) else size
    if (start >= size and size > 0) or start > end:
        raise Refusal(416, f"range {header} is outside the content ({size} bytes)")
    return start, min(end, size)


@routes.get(API_PREFIX + "/items/{id}/stream")
async def stream(request: web.Request) -> web.StreamResponse:
    """The item's bytes, honouring ``Range: bytes=N-``."""
    gate = gate_of(request)
    item, sha256 = _item_blob(gate, request.match_info["id"])
    if sha256 is None:
        raise bad_request(f"item {item['id']} is a folder and has no content")
    size = int(item["metadata"]["system"]["size"])
    content_type = str(item["metadata"]["system"].get("mimetype", "application/octet-stream"))
    path = gate.blobs.path(sha256)
    if path is not None:
        return web.FileResponse(path, headers={"Content-Type": content_type})
    window = _byte_range(request.headers.get("Range"), size)
    if window is None:
        return web.Response(body=gate.blobs.read(sha256), content_type=content_type)
    start, end = window
    body = gate.blobs.read(sha256, start)[: end - start]
    return web.Response(body=body, status=206, content_type=content_type,
                        headers={"Content-Range": f"bytes {start}-{end - 1}/{size}",
                                 "Accept-Ranges": "bytes"})
