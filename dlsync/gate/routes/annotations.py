"""Annotations: create on an item (JSON array), list an item's, get, update by diff, delete."""

from __future__ import annotations

from aiohttp import web

from dlsync.gate import render
from dlsync.gate.context import API_PREFIX, base_url, gate_of, user_of
from dlsync.gate.exports import annotations_of
from dlsync.gate.refusal import bad_request
from dlsync.gate.routes.bodies import json_body, ok

routes = web.RouteTableDef()


@routes.post(API_PREFIX + "/items/{id}/annotations")
async def create(request: web.Request) -> web.Response:
    """Create up to 100 annotations (``annotation_batch_limit``) on an item; answers them."""
    body = await json_body(request)
    store, user = gate_of(request).store, user_of(request).email
    limit = store.behaviour.annotation_batch_limit
    if isinstance(body, list) and limit is not None and len(body) > limit:
        raise bad_request(f"{len(body)} annotations in one request; send at most "
                          f"{limit} per request")
    created = store.add_annotations(request.match_info["id"], body, user)
    base = base_url(request)
    return ok([render.annotation(base, a) for a in created])


@routes.get(API_PREFIX + "/annotations/{id}")
async def get(request: web.Request) -> web.Response:
    """One annotation by id."""
    found = gate_of(request).store.annotation(request.match_info["id"])
    return ok(render.annotation(base_url(request), found))


@routes.put(API_PREFIX + "/annotations/{id}")
async def update(request: web.Request) -> web.Response:
    """Apply a diff to an annotation."""
    store, user = gate_of(request).store, user_of(request).email
    updated = store.update_annotation(request.match_info["id"], await json_body(request), user)
    return ok(render.annotation(base_url(request), updated))


@routes.delete(API_PREFIX + "/annotations/{id}")
async def delete(request: web.Request) -> web.Response:
    """Delete one annotation (any body is ignored)."""
    store = gate_of(request).store
    found = store.annotation(request.match_info["id"])
    store.delete_annotations(found["datasetId"], [found["id"]])
    gate_of(request).stats.destroyed_some("annotations", 1)
    return ok({"message": "deleted"})


@routes.get(API_PREFIX + "/items/{id}/annotations")
async def of_item(request: web.Request) -> web.Response:
    """Every annotation of an item, oldest first, as a JSON array (what exports embed)."""
    store = gate_of(request).store
    item = store.item(request.match_info["id"])
    found = annotations_of(store, item["datasetId"], [item["id"]], base_url(request))
    return ok(found[item["id"]])
