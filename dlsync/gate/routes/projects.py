"""Projects: list, get by id or name, create (form body), delete."""

from __future__ import annotations

from aiohttp import web

from dlsync.gate import render
from dlsync.gate.context import API_PREFIX, base_url, gate_of, user_of
from dlsync.gate.refusal import Refusal
from dlsync.gate.routes.bodies import media_type, ok

routes = web.RouteTableDef()


@routes.get(API_PREFIX + "/projects")
async def list_projects(request: web.Request) -> web.Response:
    """Every project, as a JSON array."""
    base = base_url(request)
    return ok([render.project(base, p) for p in gate_of(request).store.projects()])


@routes.get(API_PREFIX + "/projects/{id}")
async def get_project(request: web.Request) -> web.Response:
    """One project by id."""
    found = gate_of(request).store.project(request.match_info["id"])
    return ok(render.project(base_url(request), found))


@routes.get(API_PREFIX + "/projects/{name}/name")
async def projects_named(request: web.Request) -> web.Response:
    """The projects with a name, as a JSON array; 404 when there is none."""
    base = base_url(request)
    name = request.match_info["name"]
    found = gate_of(request).store.projects(name=name)
    if not found:
        raise Refusal(404, f"Project not found: no project is named {name!r}")
    return ok([render.project(base, p) for p in found])


@routes.post(API_PREFIX + "/projects")
async def create_project(request: web.Request) -> web.Response:
    """Create a project from a form (``name=...``) or JSON body."""
    if media_type(request) == "application/json":
        body = await request.json()
        name = body.get("name") if isinstance(body, dict) else None
    else:
        name = (await request.post()).get("name")
    created = gate_of(request).store.create_project(name, user_of(request).email)
    return ok(render.project(base_url(request), created))


@routes.delete(API_PREFIX + "/projects/{id}")
async def delete_project(request: web.Request) -> web.Response:
    """Delete a project and its datasets."""
    gate_of(request).store.delete_project(request.match_info["id"])
    return ok({"message": "deleted"})
