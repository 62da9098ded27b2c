"""The planner thread's way into the event loop: jobs and state writes handed over in batches.

One ``anyio.from_thread.run`` per job costs a thread round trip each; on a tree of small files
that round trip, not the planning, is what keeps the workers waiting. ``Handoff`` collects what
the planner produces and crosses into the loop once per ``batch`` items, or sooner when the
oldest waited ``max_wait_s`` (checked whenever the planner produces the next one), and at the end.

Order is kept: each crossing first queues the state writes, then the jobs, so a write the
planner made before a job is queued before any worker can see that job. Back-pressure holds:
the crossing waits on the bounded job stream and the writer like single sends did.

Refilled, not topped up: once the job stream is too full to take a crossing's jobs, the
crossing waits until the workers have drained it to a quarter (``REFILL_SHARE``), then fills it
in one go. The planner thread then runs a few long stretches (for a first mirror of 5,000 files
through a stream of 1,024 jobs, about six) instead of waking for every batch the workers free,
about 150 times, each time taking the event loop's GIL and a core from the platform beside it.
The drain is polled from the event loop every ``HANDOFF_REFILL_POLL_S`` (the workers read a
plain memory stream, which tells nobody when it is taken from); the mark, a quarter of the
stream, lasts the workers far longer than that (docs/benchmarks.md, thirteenth pass).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
import anyio.from_thread
from anyio.streams.memory import MemoryObjectSendStream

from dlsync.constants import HANDOFF_BATCH, HANDOFF_MAX_WAIT_S, HANDOFF_REFILL_POLL_S
from dlsync.push.job import Job
from dlsync.state.ops import WriteOp
from dlsync.streams import Sink, put

REFILL_SHARE = 4
"""A full job stream is refilled once it holds at most 1/REFILL_SHARE of its capacity."""


class Handoff:
    """Batches the planner's jobs and writes; call ``close`` when the walk ends."""

    def __init__(self, send: Sink[Job], writer: Sink[WriteOp], *,
                 batch: int = HANDOFF_BATCH, max_wait_s: float = HANDOFF_MAX_WAIT_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._send = send
        self._writer = writer
        self._batch = batch
        self._max_wait = max_wait_s
        self._clock = clock
        self._jobs: list[Job] = []
        self._ops: list[WriteOp] = []
        self._first = 0.0

    def job(self, job: Job) -> None:
        """Queue ``job`` for the workers (from the planner thread)."""
        self._started()
        self._jobs.append(job)
        self._maybe_cross()

    def write(self, op: WriteOp) -> None:
        """Queue ``op`` for the state writer (from the planner thread)."""
        self._started()
        self._ops.append(op)
        self._maybe_cross()

    def close(self) -> None:
        """Hand over whatever is still pending (from the planner thread)."""
        if self._jobs or self._ops:
            self._cross()

    def _started(self) -> None:
        if not self._jobs and not self._ops:
            self._first = self._clock()

    def _maybe_cross(self) -> None:
        if len(self._jobs) + len(self._ops) >= self._batch or \
                self._clock() - self._first >= self._max_wait:
            self._cross()

    def _cross(self) -> None:
        jobs, ops = self._jobs, self._ops
        self._jobs, self._ops = [], []
        anyio.from_thread.run(self._deliver, jobs, ops)

    async def _deliver(self, jobs: list[Job], ops: list[WriteOp]) -> None:
        for op in ops:
            await self._writer.send(op)   # the writer takes a write without a checkpoint itself
        await self._drained(len(jobs))
        for job in jobs:
            await put(self._send, job)

    async def _drained(self, count: int) -> None:
        """Return at once while the job stream has room for ``count`` more jobs; otherwise
        once the workers have taken it down to the refill mark (or gone)."""
        stream = self._send
        if not isinstance(stream, MemoryObjectSendStream):
            return
        stats = stream.statistics()
        if stats.current_buffer_used + count <= stats.max_buffer_size:
            return
        mark = stats.max_buffer_size // REFILL_SHARE
        while stats.current_buffer_used > mark and stats.open_receive_streams:
            await anyio.sleep(HANDOFF_REFILL_POLL_S)
            stats = stream.statistics()
