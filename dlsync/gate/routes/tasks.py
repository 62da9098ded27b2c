"""Tasks (``/annotationtasks``), their assignments, and item status within a task."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from dlsync.gate.context import API_PREFIX, base_url, gate_of, user_of
from dlsync.gate.refusal import bad_request
from dlsync.gate.routes.bodies import json_body, ok
from dlsync.gate.tasks import StatusChange

routes = web.RouteTableDef()
TASKS = API_PREFIX + "/annotationtasks"


def _with_url(request: web.Request, kind: str, entity: dict[str, Any]) -> dict[str, Any]:
    entity["url"] = f"{base_url(request)}/{kind}/{entity['id']}"
    return entity


def _command(request: web.Request, command: dict[str, Any]) -> web.Response:
    return ok(_with_url(request, "commands", command))


@routes.post(TASKS)
async def create(request: web.Request) -> web.Response:
    """Create a task from an items query; a finished command naming the task.

    With ``checkIfExist`` (a tasks DQL query) a task it finds is answered instead.
    """
    body, tasks = await json_body(request), gate_of(request).tasks
    found = tasks.existing(body)
    if found is not None:
        return ok(_with_url(request, "annotationtasks", found))
    return _command(request, tasks.create(body, user_of(request).email))


@routes.post(TASKS + "/query")
async def query(request: web.Request) -> web.Response:
    """A page of tasks matching a DQL body (``context.projectIds`` scopes it)."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise bad_request(f"DQL body must be a JSON object, got {type(body).__name__}")
    page = gate_of(request).tasks.query(body)
    return ok(page.to_json([_with_url(request, "annotationtasks", t) for t in page.entities]))


@routes.get(TASKS + "/{id}")
async def get(request: web.Request) -> web.Response:
    """One task by id, with ``totalItems`` and ``progress``."""
    task = gate_of(request).tasks.task(request.match_info["id"])
    return ok(_with_url(request, "annotationtasks", task))


@routes.patch(TASKS + "/{id}")
async def update(request: web.Request) -> web.Response:
    """Change a task's name, description, due date, priority, status or actions."""
    task = gate_of(request).tasks.update(request.match_info["id"], await json_body(request),
                                         user_of(request).email)
    return ok(_with_url(request, "annotationtasks", task))


@routes.delete(TASKS + "/{id}")
async def delete(request: web.Request) -> web.Response:
    """Delete a task with its assignments; its items leave it."""
    return _command(request, gate_of(request).tasks.delete(request.match_info["id"]))


@routes.post(TASKS + "/{id}/addToTask")
async def add_items(request: web.Request) -> web.Response:
    """Add the items a query selects to a task."""
    tasks = gate_of(request).tasks
    return _command(request, tasks.add_items(request.match_info["id"],
                                             await json_body(request), user_of(request).email))


@routes.post(TASKS + "/{id}/removeFromTask")
async def remove_items(request: web.Request) -> web.Response:
    """Take the items a query selects out of a task (those with a status stay)."""
    tasks = gate_of(request).tasks
    return _command(request, tasks.remove_items(request.match_info["id"],
                                                await json_body(request)))


@routes.post(API_PREFIX + "/assignments/items/tasks/{id}/status")
async def task_status(request: web.Request) -> web.Response:
    """Set or clear items' status in a task: ``{"itemIds", "statusPayload"}``."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise bad_request("status body must be a JSON object")
    item_ids = body.get("itemIds")
    if not isinstance(item_ids, list) or not all(isinstance(i, str) for i in item_ids):
        raise bad_request(f"'itemIds' must be a list of item ids, got {item_ids!r}")
    change = StatusChange(body.get("statusPayload"), user_of(request).email)
    return ok(gate_of(request).tasks.set_status(request.match_info["id"], item_ids, change))


@routes.post(API_PREFIX + "/assignments/{id}/items/{itemId}/status")
async def assignment_status(request: web.Request) -> web.Response:
    """Set or clear one item's status through an assignment: ``{"operation", "status"}``."""
    change = StatusChange(await json_body(request), user_of(request).email)
    changed = gate_of(request).tasks.set_assignment_status(
        request.match_info["id"], request.match_info["itemId"], change)
    return ok(changed)


@routes.get(API_PREFIX + "/assignments")
async def list_assignments(request: web.Request) -> web.Response:
    """Assignments filtered by ``taskId``, ``annotator`` and ``projects``."""
    found = gate_of(request).tasks.assignments(request.query.get("taskId"),
                                               request.query.get("annotator"))
    projects = request.query.get("projects")
    if projects:
        found = [a for a in found if a["projectId"] in projects.split(",")]
    items = [_with_url(request, "assignments", a) for a in found]
    return ok({"items": items, "totalItemsCount": len(items), "totalPagesCount": 1,
               "hasNextPage": False})


@routes.get(API_PREFIX + "/assignments/{id}")
async def get_assignment(request: web.Request) -> web.Response:
    """One assignment by id."""
    found = gate_of(request).tasks.assignment(request.match_info["id"])
    return ok(_with_url(request, "assignments", found))
