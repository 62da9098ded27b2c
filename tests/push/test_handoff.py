"""The planner-thread handoff: batches, order of writes before jobs, nothing left behind."""

from __future__ import annotations

import anyio
import anyio.to_thread

from dlsync.model import Action, ActionKind, FileStatus, RelPath
from dlsync.push.handoff import Handoff
from dlsync.push.job import Job
from dlsync.state.ops import MarkFile, WriteOp


class Recorder:
    """Both sinks in one: what arrived, in arrival order, and how many crossings there were."""

    def __init__(self) -> None:
        self.events: list[str] = []

    async def send(self, item: Job | WriteOp) -> None:
        self.events.append(item.action.path if isinstance(item, Job) else f"op:{item.path}")


def job(path: str) -> Job:
    return Job(Action(ActionKind.UPLOAD, RelPath(path), "new"))


def op(path: str) -> MarkFile:
    return MarkFile(1, RelPath(path), FileStatus.SYNCED)


async def test_writes_cross_before_the_jobs_planned_after_them() -> None:
    """A batch delivers its writes first, the rest arrives on close, nothing is lost."""
    sink = Recorder()
    handoff = Handoff(sink, sink, batch=3, max_wait_s=3600)

    def plan() -> None:
        handoff.job(job("a"))
        handoff.write(op("b"))
        handoff.job(job("b"))
        assert sink.events == ["op:b", "a", "b"]
        handoff.write(op("c"))
        handoff.job(job("c"))
        handoff.close()

    await anyio.to_thread.run_sync(plan)
    assert sink.events == ["op:b", "a", "b", "op:c", "c"]


async def test_a_waiting_job_crosses_once_the_wait_is_over() -> None:
    """A job is not held for a full batch longer than ``max_wait_s``."""
    sink = Recorder()
    now = [0.0]
    handoff = Handoff(sink, sink, batch=100, max_wait_s=0.05, clock=lambda: now[0])

    def plan() -> None:
        handoff.job(job("a"))
        assert sink.events == []
        now[0] = 0.06
        handoff.job(job("b"))
        assert sink.events == ["a", "b"]
        handoff.close()

    await anyio.to_thread.run_sync(plan)
    assert sink.events == ["a", "b"]


async def test_a_full_job_stream_is_refilled_once_drained_not_topped_up() -> None:
    """Once the job stream is full, the next crossing waits until the workers have taken it
    down to a quarter, then fills it again: the planner thread wakes a few times, not once per
    freed slot. Every job still arrives once, in order."""
    send, receive = anyio.create_memory_object_stream[Job](16)
    writes = Recorder()
    handoff = Handoff(send, writes, batch=2, max_wait_s=3600)
    taken: list[str] = []
    levels: list[int] = []

    def plan() -> None:
        for n in range(80):
            handoff.job(job(f"j{n:02}"))
        handoff.close()

    async def work() -> None:
        async with receive:
            async for planned in receive:
                levels.append(receive.statistics().current_buffer_used)
                taken.append(planned.action.path)
                await anyio.sleep(0.001)

    async with anyio.create_task_group() as tg:
        tg.start_soon(work)
        async with send:
            await anyio.to_thread.run_sync(plan)
    assert taken == [f"j{n:02}" for n in range(80)]
    # once full, a topped-up stream stays full until the planner runs out of jobs; a refilled
    # one is drained to its mark (a quarter) while jobs are still to come
    full = next(i for i, level in enumerate(levels) if level >= 12)
    assert min(levels[full:80 - 16]) <= 16 // 4, levels
