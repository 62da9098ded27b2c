"""Time as dlsync reads it: one seam for the pacer and the service, so tests can drive both.

``Clock`` is what a component reads and waits on; ``SystemClock`` is the real one. The pacer
spaces and backs off requests on it, the service settles files, holds gone paths, schedules
retries and paces its loops on it.
"""

from __future__ import annotations

import time
from typing import Protocol

import anyio


class Clock(Protocol):
    """Where a component reads time and waits."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""
        ...

    def wall(self) -> float:
        """Unix time, comparable with file modification times."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class SystemClock:
    """The real clock: ``time.monotonic``, ``time.time`` and ``anyio.sleep``."""

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def wall(self) -> float:
        """``time.time()``."""
        return time.time()

    async def sleep(self, seconds: float) -> None:
        """``anyio.sleep`` on the event loop."""
        await anyio.sleep(seconds)


async def wait_for_event(clock: Clock, event: anyio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set or ``seconds`` pass on ``clock``; True when it was set."""
    async with anyio.create_task_group() as tg:
        async def sleep() -> None:
            await clock.sleep(seconds)
            tg.cancel_scope.cancel()

        tg.start_soon(sleep)
        await event.wait()
        tg.cancel_scope.cancel()
    return event.is_set()
