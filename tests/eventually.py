"""Waiting for an outcome in tests: poll a check until it holds, under a deadline, never a bet."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

T = TypeVar("T")

POLL_S = 0.02
"""How often the check is asked again; the deadline, not this, bounds the wait."""


async def eventually(check: Callable[[], T | Awaitable[T]], timeout: float = 30.0, *,
                     meanwhile: Callable[[], object] | None = None) -> T:
    """The first truthy value of ``check()`` (sync or async); fail after ``timeout`` seconds.

    ``meanwhile`` runs between two checks: a test on a fake clock passes ``lambda:
    clock.advance(step)``, so time moves on only while the outcome is still awaited.
    """
    with anyio.fail_after(timeout):
        while True:
            found = check()
            if inspect.isawaitable(found):
                found = await found
            if found:
                return found  # type: ignore[return-value]
            if meanwhile is not None:
                meanwhile()
            await anyio.sleep(POLL_S)
