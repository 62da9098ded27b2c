"""Datasets: query by project and name, get, create, delete, and the folder tree."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from dlsync.gate import render
from dlsync.gate.context import API_PREFIX, base_url, gate_of, user_of
from dlsync.gate.routes.bodies import json_body, ok

routes = web.RouteTableDef()


@routes.post(API_PREFIX + "/datasets/query")
async def query_datasets(request: web.Request) -> web.Response:
    """A page of datasets matching the DQL body (scoped by ``context.projects``)."""
    page = gate_of(request).store.query_datasets(await json_body(request))
    base = base_url(request)
    return ok(page.to_json([render.dataset(base, d) for d in page.entities]))


@routes.get(API_PREFIX + "/datasets/{id}")
async def get_dataset(request: web.Request) -> web.Response:
    """One dataset by id."""
    found = gate_of(request).store.dataset(request.match_info["id"])
    return ok(render.dataset(base_url(request), found))


@routes.post(API_PREFIX + "/datasets")
async def create_dataset(request: web.Request) -> web.Response:
    """Create a dataset from ``{"name", "projects": [id], ...}``."""
    store = gate_of(request).store
    created = store.create_dataset(await json_body(request), user_of(request).email)
    return ok(render.dataset(base_url(request), created))


@routes.patch(API_PREFIX + "/datasets/{id}")
async def update_dataset(request: web.Request) -> web.Response:
    """Rename a dataset or merge its metadata."""
    store = gate_of(request).store
    updated = store.update_dataset(request.match_info["id"], await json_body(request),
                                   user_of(request).email)
    return ok(render.dataset(base_url(request), updated))


@routes.delete(API_PREFIX + "/datasets/{id}")
async def delete_dataset(request: web.Request) -> web.Response:
    """Delete a dataset with everything in it."""
    gate_of(request).store.delete_dataset(request.match_info["id"])
    return ok({"message": "deleted"})


def folder_tree(folders: list[dict[str, Any]]) -> dict[str, Any]:
    """Nest folder items (parents first) as ``{"value": folder, "children": [...]}`` nodes."""
    nodes: dict[str, dict[str, Any]] = {}
    root: dict[str, Any] = {"value": {}, "children": []}
    for folder in folders:
        node = {"value": folder, "children": []}
        nodes[folder["filename"]] = node
        parent = nodes.get(folder["dir"])
        if parent is None:
            root = node
        else:
            parent["children"].append(node)
    return root


@routes.get(API_PREFIX + "/datasets/{id}/directoryTree")
async def directory_tree(request: web.Request) -> web.Response:
    """The dataset's folders as a tree rooted at ``/``."""
    base = base_url(request)
    folders = gate_of(request).store.folders(request.match_info["id"])
    return ok(folder_tree([render.item(base, f) for f in folders]))
