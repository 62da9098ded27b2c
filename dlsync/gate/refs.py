"""An item's task references (``metadata.system.refs``), changed in place as pure functions.

An item in a task carries ``{"type": "task", "id": <task>}`` and, when the task has assignees,
``{"type": "assignment", "id": <assignment>}``. A status set in the task is written to both as
``metadata: {"status", "creator", "timestamp"}``; clearing it removes ``metadata``.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict


class RefStatus(TypedDict):
    """Who set which status when."""

    status: str
    creator: str
    timestamp: str


class Ref(TypedDict):
    """One entry of ``metadata.system.refs``."""

    type: Literal["task", "assignment"]
    id: str
    metadata: NotRequired[RefStatus]


def refs_of(doc: dict[str, Any]) -> list[Ref]:
    """The item's refs list (created empty if missing)."""
    system = doc.setdefault("metadata", {}).setdefault("system", {})
    refs: list[Ref] = system.setdefault("refs", [])
    return refs


def find(doc: dict[str, Any], ref_id: str) -> Ref | None:
    """The item's ref to task or assignment ``ref_id``, if it has one."""
    return next((r for r in refs_of(doc) if r.get("id") == ref_id), None)


def join(doc: dict[str, Any], task_id: str, assignment_id: str | None) -> bool:
    """Put the item in a task (and an assignment of it); False if it already was in the task."""
    if find(doc, task_id) is not None:
        return False
    refs = refs_of(doc)
    refs.append(Ref(type="task", id=task_id))
    if assignment_id is not None:
        refs.append(Ref(type="assignment", id=assignment_id))
    return True


def leave(doc: dict[str, Any], ref_ids: set[str]) -> None:
    """Drop the item's refs to the tasks and assignments in ``ref_ids``."""
    refs = refs_of(doc)
    refs[:] = [r for r in refs if r.get("id") not in ref_ids]


def status(doc: dict[str, Any], task_id: str) -> str | None:
    """The item's status in a task, if one is set."""
    ref = find(doc, task_id)
    return None if ref is None or "metadata" not in ref else ref["metadata"].get("status")


def set_status(doc: dict[str, Any], ref_ids: set[str], marked: RefStatus) -> None:
    """Write ``marked`` on the item's refs to the task and assignment in ``ref_ids``."""
    for ref in refs_of(doc):
        if ref.get("id") in ref_ids:
            ref["metadata"] = RefStatus(**marked)


def clear_status(doc: dict[str, Any], ref_ids: set[str]) -> None:
    """Remove the status from the item's refs in ``ref_ids``."""
    for ref in refs_of(doc):
        if ref.get("id") in ref_ids:
            ref.pop("metadata", None)
