"""Sending into and taking from anyio memory streams without a checkpoint when no wait is due.

``MemoryObjectSendStream.send`` and ``MemoryObjectReceiveStream.receive`` start with a
checkpoint: the task yields to the event loop once even when the stream has room or holds an
item. On the job stream of a first mirror that is two extra turns of the loop per file. These
helpers try the ``_nowait`` form first and await only when the stream really is full or empty;
a task that goes on to await I/O (a worker's request) still yields there.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

import anyio
from anyio.abc import ObjectReceiveStream
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)


class Sink(Protocol[T_contra]):
    """Anything items are sent into: a stream's send side, the ``StateWriter``."""

    async def send(self, item: T_contra, /) -> None:
        """Queue ``item``, waiting while the receiver is full."""
        ...


async def put(sink: Sink[T], item: T) -> None:
    """``await sink.send(item)``, without yielding when ``sink`` is a memory stream with room."""
    if isinstance(sink, MemoryObjectSendStream):
        try:
            sink.send_nowait(item)
            return
        except anyio.WouldBlock:
            pass
    await sink.send(item)


async def take(stream: ObjectReceiveStream[T]) -> T:
    """``await stream.receive()``, without yielding when ``stream`` is a memory stream holding
    an item; raises ``anyio.EndOfStream`` once every send side is closed and nothing is left."""
    if isinstance(stream, MemoryObjectReceiveStream):
        try:
            item: T = stream.receive_nowait()
            return item
        except anyio.WouldBlock:
            pass
    return await stream.receive()
