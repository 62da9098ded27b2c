"""Memory-stream sends and takes that yield to the event loop only when they must wait."""

from __future__ import annotations

import anyio
import pytest

from dlsync.streams import put, take


async def test_put_and_take_do_not_yield_when_no_wait_is_due() -> None:
    """With room (or a queued item) the caller goes on before any other ready task runs."""
    send, receive = anyio.create_memory_object_stream[int](1)
    order: list[str] = []

    async def other() -> None:
        order.append("other")

    async with send, receive, anyio.create_task_group() as tg:
        tg.start_soon(other)   # ready: it runs at this task's next yield
        await put(send, 1)
        order.append("put")
        assert await take(receive) == 1
        order.append("took")
        await anyio.sleep(0)
        assert order == ["put", "took", "other"]


async def test_put_waits_for_room_and_take_for_an_item() -> None:
    """A full stream holds the sender, an empty one the receiver; the end is ``EndOfStream``."""
    send, receive = anyio.create_memory_object_stream[int](1)
    got: list[int] = []

    async def drain() -> None:
        with receive:
            while True:
                try:
                    got.append(await take(receive))
                except anyio.EndOfStream:
                    return

    async with anyio.create_task_group() as tg:
        tg.start_soon(drain)
        async with send:
            for value in range(5):
                await put(send, value)
    assert got == [0, 1, 2, 3, 4]
    with pytest.raises(anyio.ClosedResourceError):
        await put(send, 5)
