"""Task requests checked and turned into documents: tasks, assignments, workloads, commands.

Pure functions over dicts; ``tasks.py`` reads and writes what they return. Everything a request
gets wrong is refused here (400) before anything is stored.
"""

from __future__ import annotations

import json
import re
from typing import Any

from dlsync.gate import records
from dlsync.gate.refusal import bad_request

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
TASK_TYPES = ("annotation", "qa")
DEFAULT_ACTIONS = {"annotation": ("completed", "discard"), "qa": ("approved", "discard")}
# Task keys a PATCH may change; the rest is server-owned or fixed at creation.
_PATCHABLE = ("name", "description", "dueDate", "priority", "status", "availableActions")
Workload = list[tuple[str, float]]


def email(value: Any, what: str) -> str:
    """``value`` if it is an e-mail address; Refusal (400) naming ``what`` otherwise."""
    if not isinstance(value, str) or not _EMAIL.match(value):
        raise bad_request(f"{what} must be a user's e-mail address, got {value!r}")
    return value


def workload_of(raw: Any) -> Workload:
    """``[{"assigneeId": email, "load": percent}, ...]`` checked: unique assignees, loads to 100."""
    if not isinstance(raw, list) or not raw:
        raise bad_request(f"task 'workload' must be a non-empty list, got {raw!r}")
    out: Workload = []
    for unit in raw:
        if not isinstance(unit, dict):
            raise bad_request(f"a workload entry must be an object, got {unit!r}")
        assignee = email(unit.get("assigneeId"), "workload 'assigneeId'")
        load = unit.get("load")
        if not isinstance(load, int | float) or isinstance(load, bool) or not 0 <= load <= 100:
            raise bad_request(f"workload load of {assignee} must be 0..100, got {load!r}")
        if any(assignee == a for a, _ in out):
            raise bad_request(f"workload names {assignee} twice")
        out.append((assignee, float(load)))
    if round(sum(load for _, load in out)) != 100:
        raise bad_request(f"workload loads must add up to 100, got {sum(lo for _, lo in out)}")
    return out


def distribute(item_ids: list[str], workload: Workload) -> dict[str, list[str]]:
    """Items dealt to assignees in turn, each up to its share (largest remainders round up)."""
    total = sum(load for _, load in workload) or 1.0
    exact = [len(item_ids) * load / total for _, load in workload]
    quota = [int(share) for share in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: quota[i] - exact[i])
    for i in by_remainder[: len(item_ids) - sum(quota)]:
        quota[i] += 1
    dealt: dict[str, list[str]] = {assignee: [] for assignee, _ in workload}
    turn = 0
    for item_id in item_ids:
        while len(dealt[workload[turn][0]]) >= quota[turn]:
            turn = (turn + 1) % len(workload)
        dealt[workload[turn][0]].append(item_id)
        turn = (turn + 1) % len(workload)
    return dealt


def item_query(raw: Any) -> dict[str, Any]:
    """A task's items query: DQL sent as a JSON string (as dtlpy does) or as an object."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise bad_request(f"task 'query' is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise bad_request(f"task 'query' must be a DQL object, got {raw!r}")
    if raw.get("resource", "items") != "items":
        raise bad_request(f"task 'query' must select items, got resource {raw['resource']!r}")
    return {k: v for k, v in raw.items() if k in ("filter", "join")}


def _actions(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not all(
            isinstance(a, dict) and isinstance(a.get("action"), str) and a["action"] for a in raw):
        raise bad_request(f"'availableActions' must be a list of {{'action': name}}, got {raw!r}")
    return raw


def actions_of(task: dict[str, Any]) -> list[str]:
    """The statuses an item may get in ``task``."""
    chosen = task.get("availableActions")
    if chosen:
        return [a["action"] for a in chosen]
    return list(DEFAULT_ACTIONS[task["spec"]["type"]])


def _spec(raw: Any) -> dict[str, Any]:
    spec = raw if isinstance(raw, dict) else {"type": "annotation"}
    if spec.get("type") not in TASK_TYPES:
        raise bad_request(f"task spec 'type' must be one of {list(TASK_TYPES)}, "
                          f"got {spec.get('type')!r}")
    if spec["type"] == "qa" and not isinstance(spec.get("parentTaskId"), str):
        raise bad_request("a qa task needs spec 'parentTaskId', the task it reviews")
    return dict(spec)


def _name(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise bad_request(f"task 'name' must be a non-empty string, got {raw!r}")
    return raw


def _checked_metadata(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise bad_request(f"task 'metadata' must be an object, got {raw!r}")
    allowed = raw.get("system", {}).get("allowedAssignees")
    if allowed is not None:
        if not isinstance(allowed, list):
            raise bad_request("metadata.system.allowedAssignees must be a list of e-mails")
        for assignee in allowed:
            email(assignee, "allowed assignee")
    return raw


def _patch_values(body: dict[str, Any]) -> dict[str, Any]:
    """The patchable keys of ``body`` that it sets, checked."""
    values = {k: body[k] for k in _PATCHABLE if body.get(k) is not None}
    if "name" in values:
        _name(values["name"])
    if "availableActions" in values:
        _actions(values["availableActions"])
    for key in ("dueDate", "priority"):
        if key in values and (not isinstance(values[key], int | float)
                              or isinstance(values[key], bool)):
            raise bad_request(f"task '{key}' must be a number, got {values[key]!r}")
    return values


def new_task(body: Any, user: str) -> dict[str, Any]:
    """A task document from a ``POST /annotationtasks`` body (ids are checked by the caller)."""
    if not isinstance(body, dict):
        raise bad_request("task create body must be a JSON object")
    now = records.now_iso()
    doc: dict[str, Any] = {
        "name": _name(body.get("name")), "status": "open", "spec": _spec(body.get("spec")),
        "query": body.get("query") or "{}", "creator": user, "projectId": body.get("projectId"),
        "datasetId": body.get("datasetId"), "recipeId": body.get("recipeId"),
        "taskOwner": email(body.get("taskOwner") or user, "task 'taskOwner'"),
        "dueDate": None, "priority": 2, "description": None, "availableActions": [],
        "metadata": _checked_metadata(body.get("metadata")), "assignmentIds": [],
        "createdAt": now, "updatedAt": now, "updatedBy": user,
    }
    doc.update(_patch_values({k: v for k, v in body.items() if k != "status"}))
    for key in ("projectId", "datasetId", "recipeId"):
        if not isinstance(doc[key], str):
            raise bad_request(f"task {key!r} must be an id, got {doc[key]!r}")
    return doc


def patch_task(doc: dict[str, Any], body: Any, user: str) -> None:
    """Apply a task PATCH (dtlpy sends the whole task); server-owned keys are ignored."""
    if not isinstance(body, dict):
        raise bad_request("task PATCH body must be a JSON object")
    doc.update(_patch_values(body))
    user_metadata = (body.get("metadata") or {}).get("user")
    if isinstance(user_metadata, dict):
        doc.setdefault("metadata", {})["user"] = user_metadata
    doc.update(updatedAt=records.now_iso(), updatedBy=user)


def assignment_doc(task: dict[str, Any], annotator: str, user: str) -> dict[str, Any]:
    """A new assignment of ``task`` to ``annotator``."""
    now = records.now_iso()
    return {
        "name": f"{task['name']} ({annotator})", "annotator": annotator, "status": "open",
        "projectId": task["projectId"],
        "metadata": {"system": {"taskId": task["id"], "datasetId": task["datasetId"]}},
        "createdAt": now, "updatedAt": now, "updatedBy": user,
    }


def command(command_id: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A finished command: task changes are applied before the answer, so no waiting is needed."""
    now = records.now_iso()
    return {"id": command_id, "type": kind, "status": "success", "progress": 100, "spec": spec,
            "error": None, "createdAt": now, "updatedAt": now}
