"""An item's task references (``metadata.system.refs``) as the listings return them: which
tasks hold the item, and its status in each."""

from __future__ import annotations

from typing import Any

from dlsync.remote.types import ItemJson

NO_STATUS = "open"
"""The census bucket of items in the task without a status yet."""


def task_refs(item: ItemJson | dict[str, Any]) -> list[dict[str, Any]]:
    """The item's task references (``metadata.system.refs`` of type ``task``)."""
    system = (item.get("metadata") or {}).get("system") or {}
    refs = system.get("refs") or []
    return [r for r in refs if isinstance(r, dict) and r.get("type") == "task"]


def status_in(item: ItemJson | dict[str, Any], task_ids: set[str]) -> set[str]:
    """The item's statuses in any of ``task_ids`` (``NO_STATUS`` where it has none)."""
    found = set()
    for ref in task_refs(item):
        if ref.get("id") in task_ids:
            found.add(((ref.get("metadata") or {}).get("status")) or NO_STATUS)
    return found
