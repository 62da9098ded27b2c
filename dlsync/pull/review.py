"""Review-gated pulls: only items whose task status is one of ``pull_status`` are written.

An item's status in a task is on the item itself (``metadata.system.refs``: a ``task`` ref with
``metadata.status``), so the items a pull lists already say it; the only extra request is one
task query when the pull starts, for the ids of the pair's task and the QA tasks made from it
(``spec.parentTaskId``; ``approved`` is a QA status). Without a ``task`` any task counts.
A status change moves the item's ``updatedAt`` (docs/gate.md: a guess about the platform that
``dlsync doctor --probe`` checks), so the incremental pull notices it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dlsync import logs
from dlsync.config import PairConfig
from dlsync.remote.client import DataloopClient
from dlsync.remote.refs import status_in, task_refs
from dlsync.remote.types import ItemJson

_log = logs.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ReviewGate:
    """Which statuses let an item's annotations through, in which tasks (None: any task)."""

    statuses: frozenset[str]
    task_ids: frozenset[str] | None = None

    def admits(self, item: ItemJson | dict[str, Any]) -> bool:
        """True when the item has one of the statuses in one of the tasks."""
        tasks = self.task_ids if self.task_ids is not None else \
            {str(ref.get("id")) for ref in task_refs(item)}
        return bool(status_in(item, set(tasks)) & self.statuses)


async def review_gate(client: DataloopClient, pair: PairConfig,
                      dataset_id: str) -> ReviewGate | None:
    """The review gate of a pair with ``pull_status``; ``None`` (no gate) without it."""
    if not pair.pull_status:
        return None
    statuses = frozenset(pair.pull_status)
    if pair.task is None:
        return ReviewGate(statuses)
    dataset: dict[str, Any] = dict(await client.get_dataset_by_id(dataset_id))
    project_id = (dataset.get("projects") or [""])[0]
    tasks = await client.find_tasks(project_id, [{"datasetId": dataset_id}])
    own = {t["id"] for t in tasks if t.get("name") == pair.task}
    qa = {t["id"] for t in tasks if (t.get("spec") or {}).get("parentTaskId") in own}
    if not own:
        _log.warning("the pair's task does not exist yet: no item is reviewed, no annotation "
                     "is written", task=pair.task)
    return ReviewGate(statuses, frozenset(own | qa))
