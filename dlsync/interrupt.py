"""Stopping a one-shot run on SIGTERM or SIGINT without losing what it already did.

The run is cancelled; the engine records the run as interrupted and the state writer commits
every result it was sent before the exit, so the next run continues where this one stopped
(uploads already made are adopted by fingerprint, never repeated).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Awaitable, Callable

import anyio

from dlsync import logs

_log = logs.get_logger(__name__)


async def until_signalled(run: Callable[[], Awaitable[int]]) -> int:
    """``await run()``; on SIGTERM/SIGINT cancel it and return 128 + the signal number.

    Signals reach only the main thread; elsewhere (an embedding program) ``run`` runs as is.
    """
    if threading.current_thread() is not threading.main_thread():
        return await run()
    received: list[int] = []
    try:
        result = await _watching(run, received)
    except BaseExceptionGroup as group:  # the task group wraps what run() raised: unwrap it
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
    return 128 + received[0] if received else result


async def _watching(run: Callable[[], Awaitable[int]], received: list[int]) -> int:
    """``await run()`` beside a signal watcher that cancels it and notes the signal."""
    result = 0
    async with anyio.create_task_group() as tg:

        async def watch() -> None:
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for signum in signals:
                    received.append(signum)
                    _log.warning("stopping: recording finished work; the next run continues",
                                 signal=signal.Signals(signum).name)
                    tg.cancel_scope.cancel()
                    return

        tg.start_soon(watch)
        result = await run()
        tg.cancel_scope.cancel()
    return result
