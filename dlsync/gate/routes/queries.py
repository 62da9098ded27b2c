"""``POST /datasets/{id}/query``: list, update or delete items or annotations by DQL."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from dlsync.gate import render
from dlsync.gate.context import API_PREFIX, base_url, gate_of, user_of
from dlsync.gate.refusal import bad_request
from dlsync.gate.routes.bodies import json_body, ok

routes = web.RouteTableDef()


def _items(request: web.Request, dataset_id: str, body: dict[str, Any]) -> dict[str, Any]:
    store = gate_of(request).store
    if body.get("delete") is True:
        deleted = store.delete_items_matching(dataset_id, body)
        gate_of(request).stats.destroyed_some("items", deleted)
        return {"deleted": deleted}
    if "update" in body:
        return {"updated": store.update_items_matching(dataset_id, body, user_of(request).email)}
    page = store.query_items(dataset_id, body)
    base = base_url(request)
    return page.to_json([render.item(base, i) for i in page.entities])


def _annotations(request: web.Request, dataset_id: str, body: dict[str, Any]) -> dict[str, Any]:
    store = gate_of(request).store
    if body.get("delete") is True:
        deleted = store.delete_annotations_matching(dataset_id, body)
        gate_of(request).stats.destroyed_some("annotations", deleted)
        return {"deleted": deleted}
    if "update" in body:
        raise bad_request("update by query is supported for items only")
    page = store.query_annotations(dataset_id, body)
    base = base_url(request)
    return page.to_json([render.annotation(base, a) for a in page.entities])


@routes.post(API_PREFIX + "/datasets/{id}/query")
async def query(request: web.Request) -> web.Response:
    """Run a DQL body against a dataset's ``items`` or ``annotations``."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise bad_request(f"DQL body must be a JSON object, got {type(body).__name__}")
    resource = body.get("resource", "items")
    dataset_id = request.match_info["id"]
    if resource == "items":
        return ok(_items(request, dataset_id, body))
    if resource == "annotations":
        return ok(_annotations(request, dataset_id, body))
    raise bad_request(f"DQL resource {resource!r} is not served; use 'items' or 'annotations'")
