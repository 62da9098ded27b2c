"""The pair's annotation task: items dlsync uploads or adopts are added to it, exactly once.

``TaskKeeper`` checks the task's name when a cycle starts (a task of that name in another
dataset of the project is a usage error, exit 2: nothing is changed), and picks up the items an
earlier run queued but never saw confirmed (a crash, a refused call). Each item the item step
records is first queued in state (``QueueTaskItems``, sent before the item's own record, so an
item state calls synced is always queued too); every ``TASK_BATCH`` items, and at the end of
the cycle, the queue goes to the platform in one call: the first one creates the task holding
that batch (``checkIfExist`` by name, so a create sent twice makes one task), the later ones
``addToTask``. State then marks the batch added. A retried batch is harmless: the platform skips
items already in the task, and an item state marks added is never queued again.

A refused create or add (an assignee the platform rejects, say) is reported by the run (exit 1,
"tasks were not updated"); uploads go on, and the queued items are sent by the next run.

``TaskCensus`` counts, from the remote listing the cycle makes anyway, how many of the pair's
items are in each status of its task, and which synced items are in no task (``--task-backfill``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import anyio

from dlsync import constants, logs
from dlsync.errors import DlsyncError, UsageError, is_fatal
from dlsync.model import ActionKind
from dlsync.pairs import PairContext
from dlsync.push.plan import Plan, TaskLine
from dlsync.push.tally import Tally
from dlsync.remote.refs import status_in, task_refs
from dlsync.remote.tasks import NewTask
from dlsync.remote.types import ItemJson
from dlsync.state.ops import QueueTaskItems, TaskItemsAdded, task_census
from dlsync.state.queries import StateReader
from dlsync.state.writer import StateWriter

_log = logs.get_logger(__name__)

TASKED = frozenset({ActionKind.UPLOAD, ActionKind.REUPLOAD, ActionKind.ADOPT})
"""Kinds whose item joins the pair's task: items dlsync uploads or adopts."""

@dataclass(slots=True)
class TaskCensus:
    """What one listing says about the pair's task: counts by status, items in no task."""

    task_id: str | None
    backfill: bool = False
    counts: Counter[str] = field(default_factory=Counter)
    untasked: list[str] = field(default_factory=list)

    def observe(self, item: ItemJson) -> None:
        """Count one listed item."""
        if self.task_id is not None:
            for status in status_in(item, {self.task_id}):
                self.counts[status] += 1
        if self.backfill and not task_refs(item) and \
                constants.FINGERPRINT_KEY in ((item.get("metadata") or {}).get("user") or {}):
            self.untasked.append(item["id"])


def _due_ms() -> int:
    """A new task's due date: ``TASK_DUE_S`` from now, in epoch milliseconds."""
    return int((time.time() + constants.TASK_DUE_S) * 1000)


@dataclass(frozen=True, slots=True)
class KnownTask:
    """What opening the pair's task found: kept by the service between its batches, so that a
    batch does not look the task up again (two requests each). Dropped after a refused call."""

    new: NewTask
    task_id: str | None


@dataclass(slots=True)
class TaskKeeper:
    """The pair's task during one cycle: found or made on first need, items added in batches."""

    context: PairContext
    new: NewTask
    writer: StateWriter | None = None
    tally: Tally | None = None
    task_id: str | None = None
    pending: list[str] = field(default_factory=list)
    refused: str | None = None
    _lock: anyio.Lock = field(default_factory=anyio.Lock)

    @property
    def name(self) -> str:
        return self.new.name

    @classmethod
    async def open(cls, context: PairContext, dataset_id: str) -> TaskKeeper:
        """The keeper of the pair's task; a task of that name in another dataset is refused."""
        client, pair = context.client, context.pair
        assert pair.task is not None
        dataset: dict[str, Any] = dict(await client.get_dataset_by_id(dataset_id))
        project_id = (dataset.get("projects") or [""])[0]
        recipes = ((dataset.get("metadata") or {}).get("system") or {}).get("recipes") or [""]
        owner = client.credentials.email or ""
        new = NewTask(pair.task, project_id, dataset_id, recipes[0], owner,
                      pair.task_assignees or ((owner,) if owner else ()), _due_ms())
        keeper = cls(context, new)
        for task in await client.find_tasks(project_id, [{"name": pair.task}]):
            if task.get("datasetId") != dataset_id:
                raise UsageError(f"task {pair.task!r} already exists in another dataset "
                                 f"({task.get('datasetId')}) of project {pair.project!r}; "
                                 f"dataset {pair.dataset!r} needs a task name of its own")
            keeper.task_id = task["id"]
        keeper.read_queue()
        return keeper

    @classmethod
    def reopen(cls, context: PairContext, known: KnownTask) -> TaskKeeper:
        """The keeper of a task opened before (the service's next batch): no request."""
        keeper = cls(context, replace(known.new, due_ms=_due_ms()), task_id=known.task_id)
        keeper.read_queue()
        return keeper

    def read_queue(self) -> None:
        """Pick up the items queued in state and not yet added (an earlier run's leftovers)."""
        with StateReader(self.context.store.path) as reader:
            self.pending = reader.queued_task_items(self.context.pair_id, self.name)

    def known(self) -> KnownTask | None:
        """What a later batch may reuse; ``None`` after a refused call (look it up again)."""
        return KnownTask(self.new, self.task_id) if self.refused is None else None

    async def queue(self, item_ids: Sequence[str]) -> None:
        """Queue items for the task (recorded in state first); send a full batch."""
        assert self.writer is not None
        await self.writer.send(QueueTaskItems(self.context.pair_id, self.name, tuple(item_ids)))
        self.pending.extend(item_ids)
        if len(self.pending) >= constants.TASK_BATCH:
            await self.flush(whole=False)

    async def flush(self, *, whole: bool = True) -> None:
        """Send the queued items in batches (``whole``: all of them, else full batches)."""
        async with self._lock:
            while self.pending and self.refused is None and \
                    (whole or len(self.pending) >= constants.TASK_BATCH):
                batch = self.pending[:constants.TASK_BATCH]
                try:
                    await self._send(batch)
                except DlsyncError as exc:
                    if is_fatal(exc):
                        raise
                    self._refuse(logs.scrub(str(exc)))
                    return
                del self.pending[:len(batch)]

    async def _send(self, batch: list[str]) -> None:
        client = self.context.client
        if self.task_id is None:
            task = await client.create_task(self.new, batch)
            self.task_id = task["id"]
            _log.info("created the pair's task", task=self.name, task_id=self.task_id,
                      items=len(batch), assignees=list(self.new.assignees))
        else:
            await client.add_to_task(self.task_id, batch)
        assert self.writer is not None
        await self.writer.send(TaskItemsAdded(self.context.pair_id, self.name, tuple(batch),
                                              time.time()))
        if self.tally is not None:
            self.tally.task_items_added += len(batch)

    def _refuse(self, reason: str) -> None:
        self.refused = reason
        _log.error("tasks were not updated: the platform refused the task; uploads go on, the "
                   "queued items are sent next run", task=self.name, error=reason,
                   queued=len(self.pending))
        if self.tally is not None:
            self.tally.failed(ActionKind.UPLOAD, f"task {self.name}",
                              f"tasks were not updated ({len(self.pending)} items queued for "
                              f"the next run): {reason}")


@dataclass(frozen=True, slots=True)
class CycleTasks:
    """The task side of one cycle: the keeper and the census its listing fills."""

    keeper: TaskKeeper
    census: TaskCensus

    def preview(self, plan: Plan) -> TaskLine:
        """What a run of ``plan`` would add to the task (the dry run's line)."""
        counts = plan.counts()
        return TaskLine(self.keeper.name, self.keeper.task_id is not None,
                        sum(counts.get(kind.value, 0) for kind in TASKED),
                        len(self.keeper.pending), len(self.census.untasked))

    async def after_listing(self, writer: StateWriter, tally: Tally, record: bool) -> None:
        """Record the census; queue the backfill (a real run only)."""
        self.keeper.writer, self.keeper.tally = writer, tally
        if not record:
            return
        if self.census.task_id is not None:
            await writer.send(task_census(self.keeper.context.pair_id, self.keeper.name,
                                          dict(self.census.counts), time.time()))
        untasked = self.census.untasked
        for start in range(0, len(untasked), constants.TASK_BATCH):
            await self.keeper.queue(untasked[start:start + constants.TASK_BATCH])
        if untasked:
            _log.info("backfill: synced items in no task queued for the pair's task",
                      task=self.keeper.name, items=len(untasked))


async def open_tasks(context: PairContext, dataset_id: str, backfill: bool,
                     known: KnownTask | None = None) -> CycleTasks | None:
    """The task side of a cycle of a pair with a ``task``; ``None`` without one. ``known`` (the
    same task in the same dataset, opened by an earlier batch) spares the lookup."""
    if context.pair.task is None:
        return None
    if known is not None and known.new.name == context.pair.task and \
            known.new.dataset_id == dataset_id:
        keeper = TaskKeeper.reopen(context, known)
    else:
        keeper = await TaskKeeper.open(context, dataset_id)
    return CycleTasks(keeper, TaskCensus(keeper.task_id, backfill))
