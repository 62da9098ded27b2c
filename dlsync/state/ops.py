"""Write operations on the state store, as values.

The executor sends these to the ``StateWriter``; tests and one-off tools hand them to
``StateStore.write``. Each is applied by ``dlsync.state.apply``; a batch of them commits together
or not at all.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from typing import Any

from dlsync.model import FileStatus, RelPath, StateRecord


class RunKind(enum.StrEnum):
    """What a run did."""

    MIRROR = "mirror"
    RECONCILE = "reconcile"
    PULL = "pull"


class RunOutcome(enum.StrEnum):
    """How a run ended."""

    OK = "ok"                    # every planned action succeeded
    PARTIAL = "partial"          # some items failed; they are retried next run
    FAILED = "failed"            # a fatal error stopped the run
    INTERRUPTED = "interrupted"  # stopped by a signal or shutdown


def new_run_id() -> str:
    """A fresh, unique run id."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class UpsertFile:
    """Insert or replace every field of one file's record (annotation ids are kept apart)."""

    pair: int
    record: StateRecord
    next_attempt: float | None = None


@dataclass(frozen=True, slots=True)
class MarkFile:
    """Set the status, attempt count and error of a tracked file, leaving its stat alone."""

    pair: int
    path: RelPath
    status: FileStatus
    attempts: int = 0
    error: str | None = None
    next_attempt: float | None = None


@dataclass(frozen=True, slots=True)
class DeleteFile:
    """Forget one file of a pair."""

    pair: int
    path: RelPath


@dataclass(frozen=True, slots=True)
class AddAnnotations:
    """Remember annotations dlsync created on an item: ``(canonical hash, annotation id)``."""

    pair: int
    item_id: str
    annotations: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class RemoveAnnotations:
    """Forget annotations dlsync deleted from an item, by annotation id."""

    pair: int
    item_id: str
    annotation_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QueueTaskItems:
    """Items to add to the pair's task; one already queued or added stays as it is."""

    pair: int
    task: str
    item_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TaskItemsAdded:
    """The platform took these items into the pair's task at ``when``."""

    pair: int
    task: str
    item_ids: tuple[str, ...]
    when: float


@dataclass(frozen=True, slots=True)
class StartRun:
    """A run began."""

    pair: int
    run_id: str
    kind: RunKind
    started: float


@dataclass(frozen=True, slots=True)
class FinishRun:
    """A run ended; ``counts`` maps action kinds (or any label) to how many there were."""

    run_id: str
    finished: float
    outcome: RunOutcome
    counts: dict[str, int] = field(default_factory=dict, hash=False)
    bytes: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SetMeta:
    """Set (or, with ``value=None``, remove) a process-wide fact such as the daemon's pid."""

    key: str
    value: Any


PAUSED_KEY = "paused:"
"""Meta key prefix of a pair the service paused: ``paused:<pair> = {"reason", "since"}``."""


def pair_paused(pair: str, reason: str | None, now: float) -> SetMeta:
    """Record that the service paused ``pair`` (``reason``), or resumed it (``None``)."""
    value = None if reason is None else {"reason": reason, "since": now}
    return SetMeta(PAUSED_KEY + pair, value)


DAEMON_KEY = "daemon"
"""Meta key of the running service: ``{"pid": N, "heartbeat": unix time}``."""


def daemon_heartbeat(pid: int, now: float) -> SetMeta:
    """The operation the service sends periodically so that ``dlsync status`` sees it alive."""
    return SetMeta(DAEMON_KEY, {"pid": pid, "heartbeat": now})


def daemon_stopped() -> SetMeta:
    """The operation the service sends as it exits cleanly."""
    return SetMeta(DAEMON_KEY, None)


TASK_STATUS_KEY = "task-status/"
"""Meta key prefix of a pair's task census: ``task-status/<pair id> = {"task", "counts",
"time"}``: how many of its items were in each status of its task at the last listing."""


def task_census(pair: int, task: str, counts: dict[str, int], now: float) -> SetMeta:
    """Record how many of the pair's items were in each status of ``task`` at ``now``."""
    return SetMeta(f"{TASK_STATUS_KEY}{pair}", {"task": task, "counts": counts, "time": now})


WriteOp = (UpsertFile | MarkFile | DeleteFile | AddAnnotations | RemoveAnnotations | StartRun
           | FinishRun | SetMeta | QueueTaskItems | TaskItemsAdded)
