"""``DoctorClient``: the real ``DataloopClient`` plus the few calls only the doctor makes.

The probe must see what the platform answers, not what dlsync makes of it: the raw ``x-item-op``
header, a batch of annotations larger than dlsync ever sends, a reply's ``Date`` header. It also
cleans up after itself (a scratch dataset, a task). Everything goes through the same session,
pacer and error translation as every other dlsync request.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import aiohttp
import anyio

from dlsync import constants
from dlsync.errors import ProtocolError
from dlsync.remote import replies
from dlsync.remote.calls import SAFE, UNSAFE
from dlsync.remote.client import DataloopClient, UploadMode
from dlsync.remote.session import BodyFactory, Reply
from dlsync.remote.stall import StallWatch
from dlsync.remote.types import AnnotationJson, ItemJson

_COMMAND_DONE = frozenset({"success", "failed", "canceled", "timeout"})


@dataclass(frozen=True, slots=True)
class ProbeFile:
    """A small file the probe uploads: where it goes, its bytes, the metadata form field."""

    filename: str
    data: bytes
    metadata: dict[str, Any] | None = None
    content_type: str = "text/plain"


@dataclass(frozen=True, slots=True)
class Uploaded:
    """An upload's item and its ``x-item-op`` header exactly as sent (None: no header)."""

    item: ItemJson
    op: str | None


@dataclass(frozen=True, slots=True)
class TaskRequest:
    """A one-assignee annotation task over the files a DQL filter selects."""

    name: str
    dataset_id: str
    project_id: str
    recipe_id: str
    assignee: str


class DoctorClient(DataloopClient):
    """A ``DataloopClient`` with the raw calls of ``dlsync doctor``."""

    async def fetch(self, path: str, what: str) -> Reply:
        """``GET path``: the whole reply, headers included."""
        reply, _ = await self._call("GET", path, what)
        return reply

    async def upload_bytes(self, dataset_id: str, file: ProbeFile,
                           mode: UploadMode) -> Uploaded:
        """Upload ``file`` as dlsync uploads (multipart, ``mode``); the raw ``x-item-op``."""
        reply, req = await self._call("POST", f"/datasets/{dataset_id}/items",
                                      f"upload {file.filename}", params={"mode": mode},
                                      body=_form(file))
        return Uploaded(cast(ItemJson, replies.entity(reply.body, req)),
                        reply.headers.get("x-item-op"))

    async def post_annotation_batch(self, item_id: str,
                                    batch: list[AnnotationJson]) -> list[AnnotationJson]:
        """Post ``batch`` in one request, however long it is."""
        reply, req = await self._call("POST", f"/items/{item_id}/annotations",
                                      f"{len(batch)} annotations of item {item_id}", UNSAFE,
                                      json=batch)
        return cast(list[AnnotationJson], replies.entities(reply.body, req))

    async def query_items(self, dataset_id: str, body: dict[str, Any]) -> list[ItemJson]:
        """The first page of an item query ``body`` (DQL), in the order the remote sorted it."""
        reply, req = await self._call("POST", f"/datasets/{dataset_id}/query",
                                      f"query items of dataset {dataset_id}", json=body,
                                      headers={"user_query": "true"})
        return cast(list[ItemJson], replies.page(reply.body, req)["items"])

    async def query_datasets(self, project_id: str) -> int:
        """How many datasets the project shows the caller (first page)."""
        body = {"filter": {}, "page": 0, "pageSize": 10, "resource": "datasets",
                "context": {"projects": [project_id]}}
        reply, req = await self._call("POST", "/datasets/query", f"datasets of {project_id}",
                                      json=body, headers={"user_query": "true"})
        return len(replies.page(reply.body, req)["items"])

    async def delete_dataset(self, dataset_id: str) -> None:
        """Delete a dataset with everything in it."""
        await self._call("DELETE", f"/datasets/{dataset_id}", f"dataset {dataset_id}")

    async def create_probe_task(self, task: TaskRequest, query: dict[str, Any]) -> str:
        """Create an annotation task as dtlpy does and wait for its command; the task id."""
        body = {
            "name": task.name, "datasetId": task.dataset_id, "projectId": task.project_id,
            "recipeId": task.recipe_id, "query": json.dumps(query), "taskOwner": task.assignee,
            "spec": {"type": "annotation"}, "workload": [{"assigneeId": task.assignee,
                                                          "load": 100}],
            "dueDate": (time.time() + 86400) * 1000, "priority": 2,
        }
        reply, req = await self._call("POST", "/annotationtasks", f"create task {task.name}",
                                      UNSAFE, json=body)
        answer = replies.entity(reply.body, req)
        if "taskOwner" in answer or "assignmentIds" in answer:  # the task itself, not a command
            return str(answer["id"])
        command = await self._finished(answer)
        task_id = (command.get("spec") or {}).get("createdTaskId")
        if command.get("status") != "success" or not isinstance(task_id, str):
            raise ProtocolError(f"create task {task.name}: command {command['id']} ended "
                                f"{command.get('status')!r} without a task id")
        return task_id

    async def _finished(self, command: dict[str, Any]) -> dict[str, Any]:
        """``command`` once the platform has finished it (polled, bounded)."""
        with anyio.move_on_after(constants.DOCTOR_COMMAND_WAIT_S):
            while command.get("status") not in _COMMAND_DONE:
                await anyio.sleep(1.0)
                reply, req = await self._call("GET", f"/commands/{command['id']}",
                                              f"command {command['id']}")
                command = replies.entity(reply.body, req)
        return command

    async def set_status(self, task_id: str, item_id: str, status: str) -> Any:
        """Give ``item_id`` the ``status`` in task ``task_id`` (dtlpy's ``update_status``)."""
        body = {"itemIds": [item_id], "statusPayload": {"operation": "create", "status": status,
                                                        "returnLastStatus": True}}
        reply, _ = await self._call("POST", f"/assignments/items/tasks/{task_id}/status",
                                    f"status of item {item_id}", SAFE, json=body)
        return reply.body

    async def delete_task(self, task_id: str) -> None:
        """Delete a task (its refs leave the items)."""
        await self._call("DELETE", f"/annotationtasks/{task_id}", f"task {task_id}",
                         json={"asynced": False})

    def reads_proxy_environment(self) -> bool:
        """Whether the HTTP session takes proxies from the environment (``trust_env``)."""
        return bool(getattr(self._session.http, "trust_env", False))


def _form(file: ProbeFile) -> BodyFactory:
    """The multipart body dlsync sends for an upload: type, path, metadata, file."""

    @asynccontextmanager
    async def body(watch: StallWatch) -> AsyncIterator[aiohttp.FormData]:
        form = aiohttp.FormData()
        form.add_field("type", "file")
        form.add_field("path", file.filename)
        if file.metadata is not None:
            form.add_field("metadata", json.dumps(file.metadata))
        form.add_field("file", file.data, filename=file.filename.rsplit("/", 1)[-1],
                       content_type=file.content_type)
        yield form

    return body
