"""A bounded queue of paths that coalesces: each key waits at most once, its latest value wins.

Producers wait while the queue is full (back-pressure); nothing is dropped. A key already
queued is updated in place and never waits, so a burst of events on one file costs one slot.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Generic, TypeVar

import anyio

K = TypeVar("K")
V = TypeVar("V")


class CoalescingQueue(Generic[K, V]):
    """An insertion-ordered, bounded map of pending keys to their latest value."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("a queue needs room for at least one key")
        self.capacity = capacity
        self._items: OrderedDict[K, V] = OrderedDict()
        self._changed = anyio.Condition()

    @property
    def depth(self) -> int:
        """How many keys are waiting."""
        return len(self._items)

    async def put(self, key: K, value: V) -> None:
        """Queue ``key`` with ``value`` (replacing an older value); wait while the queue is full."""
        async with self._changed:
            while key not in self._items and len(self._items) >= self.capacity:
                await self._changed.wait()
            self._items[key] = value
            self._changed.notify_all()

    async def put_many(self, entries: Iterable[tuple[K, V]]) -> None:
        """``put`` each entry in order under one hold of the lock (a watcher's group of
        changes); waits only while the queue is full, after waking any taker."""
        added = False
        async with self._changed:
            for key, value in entries:
                if key not in self._items and len(self._items) >= self.capacity:
                    self._changed.notify_all()
                    while key not in self._items and len(self._items) >= self.capacity:
                        await self._changed.wait()
                self._items[key] = value
                added = True
            if added:
                self._changed.notify_all()

    async def take(self, limit: int) -> list[tuple[K, V]]:
        """Up to ``limit`` keys in arrival order, waiting until there is at least one."""
        async with self._changed:
            while not self._items:
                await self._changed.wait()
            return self._pop(limit)

    async def take_nowait(self, limit: int) -> list[tuple[K, V]]:
        """Up to ``limit`` keys in arrival order; empty when none wait."""
        async with self._changed:
            return self._pop(limit)

    def _pop(self, limit: int) -> list[tuple[K, V]]:
        taken = [self._items.popitem(last=False) for _ in range(min(limit, len(self._items)))]
        if taken:
            self._changed.notify_all()
        return taken
