"""Annotation and QA tasks: created from an items query, listed by DQL, items added and removed.

A task lives in the ``tasks`` table; its assignments (one per assignee) in ``assignments``; which
items it holds is written on the items themselves (``refs.py``), so DQL on
``metadata.system.refs`` finds them. Changes are applied before the answer: the commands dtlpy
waits for come back finished.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from dlsync.gate import records, refs, taskdocs
from dlsync.gate.behaviour import GateBehaviour
from dlsync.gate.dql import JsonArray, compile_query
from dlsync.gate.records import Page
from dlsync.gate.refusal import bad_request, not_found

if TYPE_CHECKING:
    from dlsync.gate.recipes import RecipeStore
    from dlsync.gate.store import Store

TASK_FIELDS = {
    "id": "id", "name": "name", "projectId": "project_id", "datasetId": "dataset_id",
    "createdAt": "created_at", "assignmentIds": JsonArray("$.assignmentIds"),
}
_IN_TASK = ("SELECT items.id, items.doc FROM items, json_each(items.doc, '$.metadata.system.refs')"
            " AS r WHERE items.dataset_id = ? AND json_extract(r.value, '$.id') = ?")
_COUNTS = ("SELECT count(*), count(json_extract(r.value, '$.metadata.status')) FROM items, "
           "json_each(items.doc, '$.metadata.system.refs') AS r "
           "WHERE items.dataset_id = ? AND json_extract(r.value, '$.id') = ?")


def _chunks(ids: list[str], size: int = 500) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


class TaskStore:
    """Tasks and assignments in the gate's database (through the store's transactions)."""

    def __init__(self, store: Store, recipes: RecipeStore, behaviour: GateBehaviour) -> None:
        self._store = store
        self._recipes = recipes
        self._behaviour = behaviour

    # -- reading ---------------------------------------------------------------------------------

    def _doc(self, table: str, entity_id: str) -> dict[str, Any]:
        rows = self._store.rows(f"SELECT doc FROM {table} WHERE id = ?", entity_id)
        if not rows:
            raise not_found(table.removesuffix("s"), entity_id)
        return {**json.loads(rows[0]["doc"]), "id": entity_id}

    def _with_counts(self, doc: dict[str, Any], dataset_id: str) -> dict[str, Any]:
        total, done = self._store.rows(_COUNTS, dataset_id, doc["id"])[0]
        doc.update(totalItems=total, progress=round(100 * done / total) if total else 0)
        return doc

    def task(self, task_id: str) -> dict[str, Any]:
        """The task ``task_id`` with its item count and progress (% with a status); 404 if not."""
        doc = self._doc("tasks", task_id)
        return self._with_counts(doc, doc["datasetId"])

    def query(self, body: Any) -> Page:
        """Tasks matching a DQL body, scoped by ``context.projectIds``."""
        query = compile_query(body, TASK_FIELDS)
        context = body.get("context")
        wanted = context.get("projectIds") if isinstance(context, dict) else None
        projects = [p for p in wanted if isinstance(p, str)] if isinstance(wanted, list) else []
        scope = f"project_id IN ({','.join('?' * len(projects))})" if projects else "1"
        where = f"{scope} AND ({query.where})"
        total = self._store.rows(f"SELECT count(*) FROM tasks WHERE {where}",
                                 *projects, *query.params)[0][0]
        rows = self._store.rows(
            f"SELECT id FROM tasks WHERE {where} ORDER BY {query.order_by} LIMIT ? OFFSET ?",
            *projects, *query.params, query.page_size + 1, query.page * query.page_size)
        tasks = [self.task(r["id"]) for r in rows[: query.page_size]]
        return Page(tasks, total, query.page_size, len(rows) > query.page_size)

    def assignment(self, assignment_id: str) -> dict[str, Any]:
        """The assignment ``assignment_id`` with its item count and progress; 404 if unknown."""
        doc = self._doc("assignments", assignment_id)
        return self._with_counts(doc, doc["metadata"]["system"]["datasetId"])

    def assignments(self, task_id: str | None, annotator: str | None) -> list[dict[str, Any]]:
        """Assignments, optionally of one task or one annotator."""
        rows = self._store.rows(
            "SELECT id FROM assignments WHERE coalesce(?, task_id) = task_id "
            "AND coalesce(?, annotator) = annotator ORDER BY id", task_id, annotator)
        return [self.assignment(r["id"]) for r in rows]

    def _matching(self, dataset_id: str, raw_query: Any) -> list[str]:
        """Ids of the dataset's files a task query selects, oldest first."""
        query = compile_query(taskdocs.item_query(raw_query), records.ITEM_FIELDS,
                              records.ITEM_JOINS)
        rows = self._store.rows(f"SELECT id FROM items WHERE dataset_id = ? AND type = 'file' "
                                f"AND ({query.where}) ORDER BY id", dataset_id, *query.params)
        return [r["id"] for r in rows]

    # -- writing ---------------------------------------------------------------------------------

    def _write_item(self, db: sqlite3.Connection, item_id: str, doc: dict[str, Any]) -> None:
        if self._behaviour.refs_move_updated_at:
            db.execute("UPDATE items SET doc = ?, updated_at = ? WHERE id = ?",
                       (json.dumps(doc), records.now_iso(), item_id))
        else:
            db.execute("UPDATE items SET doc = ? WHERE id = ?", (json.dumps(doc), item_id))

    def _save(self, db: sqlite3.Connection, task: dict[str, Any]) -> None:
        body = {k: v for k, v in task.items() if k not in ("id", "totalItems", "progress")}
        db.execute("UPDATE tasks SET name = ?, doc = ? WHERE id = ?",
                   (task["name"], json.dumps(body), task["id"]))

    def _item_docs(self, db: sqlite3.Connection, item_ids: list[str]
                   ) -> Iterator[tuple[str, dict[str, Any]]]:
        for chunk in _chunks(item_ids):
            marks = ",".join("?" * len(chunk))
            for row in db.execute(f"SELECT id, doc FROM items WHERE id IN ({marks}) ORDER BY id",
                                  chunk).fetchall():
                yield row["id"], json.loads(row["doc"])

    def _assignees(self, db: sqlite3.Connection, task: dict[str, Any],
                   workload: taskdocs.Workload | None, user: str) -> dict[str, str]:
        """annotator → assignment id for the workload, creating missing assignments."""
        known = {r["annotator"]: r["id"] for r in db.execute(
            "SELECT id, annotator FROM assignments WHERE task_id = ?", (task["id"],))}
        for annotator, _ in workload or []:
            if annotator not in known:
                known[annotator] = self._store.ids.next_id()
                db.execute("INSERT INTO assignments VALUES (?, ?, ?, ?)", (
                    known[annotator], task["id"], annotator,
                    json.dumps(taskdocs.assignment_doc(task, annotator, user))))
                task["assignmentIds"].append(known[annotator])
        return known

    def _add(self, db: sqlite3.Connection, task: dict[str, Any], item_ids: list[str],
             workload: taskdocs.Workload | None, user: str) -> int:
        """Put items in ``task``, dealt to the workload (or evenly to its assignments)."""
        assignees = self._assignees(db, task, workload, user)
        fresh = [(i, d) for i, d in self._item_docs(db, item_ids)
                 if refs.find(d, task["id"]) is None]
        shares = workload or [(a, 1.0) for a in assignees]
        dealt = taskdocs.distribute([i for i, _ in fresh], shares) if shares else {}
        owner = {i: assignees[a] for a, ids in dealt.items() for i in ids}
        for item_id, doc in fresh:
            refs.join(doc, task["id"], owner.get(item_id))
            self._write_item(db, item_id, doc)
        return len(fresh)

    def _ids_for_new_task(self, task: dict[str, Any], body: dict[str, Any]) -> list[str]:
        dataset = self._store.dataset(task["datasetId"])
        if task["projectId"] not in dataset["projects"]:
            raise bad_request(f"dataset {task['datasetId']} is not in project {task['projectId']}")
        self._recipes.recipe(task["recipeId"])
        if task["spec"]["type"] == "qa":
            parent = self._doc("tasks", task["spec"]["parentTaskId"])
            if parent["datasetId"] != task["datasetId"]:
                raise bad_request("a qa task must review a task of the same dataset")
        item_ids = self._matching(task["datasetId"], task["query"])
        limit = body.get("limit")
        return item_ids[:limit] if isinstance(limit, int) and limit > 0 else item_ids

    def existing(self, body: Any) -> dict[str, Any] | None:
        """The first task a create body's ``checkIfExist`` query (tasks DQL) finds, if any."""
        check = body.get("checkIfExist") if isinstance(body, dict) else None
        if not isinstance(check, dict) or not isinstance(check.get("query"), dict):
            return None
        found = self.query(check["query"]).entities
        return found[0] if found else None

    def create(self, body: Any, user: str) -> dict[str, Any]:
        """Create a task with its assignments and items; a finished command naming it."""
        task = taskdocs.new_task(body, user)
        workload = taskdocs.workload_of(body["workload"]) if body.get("workload") else None
        item_ids = self._ids_for_new_task(task, body)
        task["id"] = self._store.ids.next_id()
        with self._store.transaction(task["datasetId"]) as db:
            db.execute("INSERT INTO tasks VALUES (?, ?, ?, ?, ?, '{}')", (
                task["id"], task["projectId"], task["datasetId"], task["name"],
                task["createdAt"]))
            self._add(db, task, item_ids, workload, user)
            self._save(db, task)
        spec = {"createTaskPayload": body, "createdTaskId": task["id"]}
        return taskdocs.command(self._store.ids.next_id(), "CreateTask", spec)

    def update(self, task_id: str, body: Any, user: str) -> dict[str, Any]:
        """Apply a task PATCH: name, description, due date, priority, status, actions, user meta."""
        task = self._doc("tasks", task_id)
        taskdocs.patch_task(task, body, user)
        with self._store.transaction() as db:
            self._save(db, task)
        return self.task(task_id)

    def delete(self, task_id: str) -> dict[str, Any]:
        """Delete a task, its assignments and its refs on items; a finished command."""
        task = self._doc("tasks", task_id)
        dropped = {task_id, *task["assignmentIds"]}
        with self._store.transaction(task["datasetId"]) as db:
            for row in db.execute(_IN_TASK, (task["datasetId"], task_id)).fetchall():
                doc = json.loads(row["doc"])
                refs.leave(doc, dropped)
                self._write_item(db, row["id"], doc)
            db.execute("DELETE FROM assignments WHERE task_id = ?", (task_id,))
            db.execute("DELETE FROM tasks WHERE id = ?", (task_id,))
        return taskdocs.command(self._store.ids.next_id(), "DeleteTask", {"deleteTaskId": task_id})

    def add_items(self, task_id: str, body: Any, user: str) -> dict[str, Any]:
        """Add the items a query selects (``addToTask``); a finished command."""
        if not isinstance(body, dict):
            raise bad_request("addToTask body must be a JSON object")
        task = self._doc("tasks", task_id)
        workload = taskdocs.workload_of(body["workload"]) if body.get("workload") else None
        item_ids = self._matching(task["datasetId"], body.get("query"))
        with self._store.transaction(task["datasetId"]) as db:
            added = self._add(db, task, item_ids, workload, user)
            self._save(db, task)
        spec = {"addToTaskPayload": body, "taskId": task_id, "addedItemsCount": added}
        return taskdocs.command(self._store.ids.next_id(), "AddToTask", spec)

    def remove_items(self, task_id: str, body: Any) -> dict[str, Any]:
        """Take the items a query selects out of a task, except those with a status set."""
        if not isinstance(body, dict):
            raise bad_request("removeFromTask body must be a JSON object")
        task = self._doc("tasks", task_id)
        selected = self._matching(task["datasetId"], body.get("query"))
        dropped, removed, total = {task_id, *task["assignmentIds"]}, 0, 0
        with self._store.transaction(task["datasetId"]) as db:
            for item_id, doc in self._item_docs(db, selected):
                if refs.find(doc, task_id) is None:
                    continue
                total += 1
                if refs.status(doc, task_id) is None:
                    refs.leave(doc, dropped)
                    self._write_item(db, item_id, doc)
                    removed += 1
        spec = {"removeFromTaskId": task_id, "removeItemsCount": removed, "totalItemsCount": total}
        return taskdocs.command(self._store.ids.next_id(), "RemoveFromTask", spec)

    def set_status(self, task_id: str, item_ids: list[str], change: StatusChange
                   ) -> dict[str, Any]:
        """Set or clear items' status in a task; ``{itemId: task ref}`` of the items changed.

        Items outside the task, or (clearing) without that status, are left out of the answer.
        """
        task = self._doc("tasks", task_id)
        change.check(task)
        changed: dict[str, Any] = {}
        with self._store.transaction(task["datasetId"]) as db:
            for item_id, doc in self._item_docs(db, item_ids):
                if change.apply(doc, task):
                    self._write_item(db, item_id, doc)
                    changed[item_id] = refs.find(doc, task_id)
        return changed

    def set_assignment_status(self, assignment_id: str, item_id: str, change: StatusChange
                              ) -> dict[str, Any]:
        """Set or clear one item's status through one of its task's assignments."""
        assignment = self._doc("assignments", assignment_id)
        doc = self._store.item(item_id)
        if refs.find(doc, assignment_id) is None:
            raise bad_request(f"item {item_id} is not in assignment {assignment_id}")
        return self.set_status(assignment["metadata"]["system"]["taskId"], [item_id], change)


class StatusChange:
    """One status request: set (``create``) or clear (``delete``) ``status``, by ``user``."""

    def __init__(self, body: Any, user: str) -> None:
        if not isinstance(body, dict):
            raise bad_request("status body must be a JSON object")
        operation, status = body.get("operation"), body.get("status")
        if operation not in ("create", "delete"):
            raise bad_request(f"status operation must be 'create' or 'delete', got {operation!r}")
        if not isinstance(status, str) or not status:
            raise bad_request(f"status must be a non-empty string, got {status!r}")
        self.operation: str = operation
        self.status: str = status
        self.user = user

    def check(self, task: dict[str, Any]) -> None:
        """Refuse (400) a status the task does not offer."""
        offered = taskdocs.actions_of(task)
        if self.operation == "create" and self.status not in offered:
            raise bad_request(f"status {self.status!r} is not offered by task {task['id']}; "
                              f"it offers {offered}")

    def apply(self, doc: dict[str, Any], task: dict[str, Any]) -> bool:
        """Change the item ``doc`` in ``task``; False when nothing was to change."""
        if refs.find(doc, task["id"]) is None:
            return False
        ids = {task["id"], *task["assignmentIds"]}
        if self.operation == "delete":
            if refs.status(doc, task["id"]) != self.status:
                return False
            refs.clear_status(doc, ids)
            return True
        marked = refs.RefStatus(status=self.status, creator=self.user,
                                timestamp=records.now_iso())
        refs.set_status(doc, ids, marked)
        return True
