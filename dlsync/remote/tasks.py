"""``TaskOps``: annotation tasks: found by name, created once, items added by id.

Bodies are dtlpy's (``repositories/tasks.py``): the items query travels as a JSON *string*,
``dueDate`` is in milliseconds, and a create carries ``checkIfExist`` (a tasks query by name in
the dataset) so a create sent twice answers the task the first one made. ``addToTask`` skips
items already in the task, so both calls are safe to repeat.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from dlsync.errors import ProtocolError
from dlsync.remote import replies
from dlsync.remote.calls import ClientCore

_COMMAND_POLL_S = 0.5
_COMMAND_POLLS = 600


@dataclass(frozen=True, slots=True)
class NewTask:
    """What a task is created with."""

    name: str
    project_id: str
    dataset_id: str
    recipe_id: str
    owner: str
    assignees: tuple[str, ...]
    due_ms: int


def ids_query(item_ids: Sequence[str]) -> str:
    """The items query selecting exactly ``item_ids``, as the JSON string tasks carry."""
    return json.dumps({"filter": {"$and": [{"id": {"$in": list(item_ids)}}]}})


def workload(assignees: Sequence[str]) -> list[dict[str, Any]]:
    """An even workload, loads adding up to 100 (dtlpy's ``Workload.generate``)."""
    share = round(100 / len(assignees), 4)
    loads = [share] * len(assignees)
    loads[-1] = round(100 - share * (len(assignees) - 1), 4)
    return [{"assigneeId": a, "load": load} for a, load in zip(assignees, loads, strict=True)]


def _tasks_query(conditions: list[dict[str, Any]], project_id: str) -> dict[str, Any]:
    return {"filter": {"$and": conditions}, "page": 0, "pageSize": 1000,
            "resource": "tasks", "context": {"projectIds": [project_id]}}


class TaskOps(ClientCore):
    """Find, create and fill annotation tasks."""

    async def find_tasks(self, project_id: str, conditions: list[dict[str, Any]]
                         ) -> list[dict[str, Any]]:
        """Tasks of the project matching ``conditions`` (one page of up to 1,000)."""
        reply, req = await self._call("POST", "/annotationtasks/query", "tasks query",
                                      json=_tasks_query(conditions, project_id))
        return list(replies.page(reply.body, req)["items"])

    async def create_task(self, new: NewTask, item_ids: Sequence[str]) -> dict[str, Any]:
        """Create the task holding ``item_ids`` (or answer the one of that name already in
        the dataset); the task JSON."""
        body: dict[str, Any] = {
            "name": new.name, "query": ids_query(item_ids), "taskOwner": new.owner,
            "spec": {"type": "annotation"}, "datasetId": new.dataset_id,
            "projectId": new.project_id, "assignmentIds": [], "recipeId": new.recipe_id,
            "dueDate": new.due_ms, "asynced": False, "priority": 2,
            "checkIfExist": {"query": _tasks_query(
                [{"name": new.name}, {"datasetId": new.dataset_id}], new.project_id)},
        }
        if new.assignees:
            body["workload"] = workload(new.assignees)
        reply, req = await self._call("POST", "/annotationtasks", f"create task {new.name!r}",
                                      json=body)
        answer = replies.entity(reply.body, req)
        if "name" in answer and "spec" in answer and "createdTaskId" not in answer["spec"]:
            return answer
        command = await self._finished(answer)
        task_id = (command.get("spec") or {}).get("createdTaskId")
        if not isinstance(task_id, str):
            raise ProtocolError(f"{req.describe()}: the command names no createdTaskId")
        return await self.task(task_id)

    async def task(self, task_id: str) -> dict[str, Any]:
        """One task by id."""
        reply, req = await self._call("GET", f"/annotationtasks/{task_id}", f"task {task_id}")
        return replies.entity(reply.body, req)

    async def add_to_task(self, task_id: str, item_ids: Sequence[str]) -> int:
        """Add the items (those already in the task are skipped); how many were added."""
        reply, req = await self._call("POST", f"/annotationtasks/{task_id}/addToTask",
                                      f"add {len(item_ids)} items to task {task_id}",
                                      json={"query": ids_query(item_ids)})
        command = await self._finished(replies.entity(reply.body, req))
        added = (command.get("spec") or {}).get("addedItemsCount")
        return added if isinstance(added, int) else len(item_ids)

    async def _finished(self, command: dict[str, Any]) -> dict[str, Any]:
        """The command once it finished (the platform may answer before it did)."""
        for _ in range(_COMMAND_POLLS):
            if command.get("status") in (None, "success"):
                return command
            if command.get("status") in ("failed", "canceled", "timeout"):
                raise ProtocolError(f"command {command['id']} {command['status']}: "
                                    f"{command.get('error')}")
            await anyio.sleep(_COMMAND_POLL_S)
            reply, req = await self._call("GET", f"/commands/{command['id']}",
                                          f"command {command['id']}")
            command = replies.entity(reply.body, req)
        raise ProtocolError(f"command {command['id']} did not finish")
