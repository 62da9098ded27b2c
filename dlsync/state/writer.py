"""The single writer: one task owns the write connection and commits operations in batches.

Everyone else sends ``WriteOp`` values through a bounded memory-object stream (back-pressure: a
sender waits when the writer falls behind). The writer commits when ``batch`` operations are
pending or ``flush_s`` seconds after the first of them arrived, whichever comes first.
``await writer.flush()`` returns once everything sent before it is committed.

If a commit fails (a full disk, a database gone bad), the writer stops: the failed batch is rolled
back, so nothing is recorded as done that was not committed, and every later ``send``, ``flush``
or ``replace_remote_items`` raises that error (a ``DiskFullError`` or ``StateError``).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterable, AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from dlsync import constants
from dlsync.errors import StateError
from dlsync.logs import get_logger
from dlsync.model import RemoteChange, RemoteItem
from dlsync.state.ops import WriteOp
from dlsync.state.store import REMOTE_CHUNK, ListingMark, StateStore
from dlsync.streams import put

_log = get_logger(__name__)

Seal = Callable[[int], ListingMark | None]
"""Called once a listing was consumed, with the rows inserted (a replacement) or the items new
to the cache (a merge); returns the listing mark to record with it. A merge whose seal returns
``None`` is rolled back; a replacement then records no mark."""
T = TypeVar("T")


@dataclass(eq=False)
class _Ticket:
    """A request the caller waits on: a flush, or a remote-cache replacement."""

    done: anyio.Event = field(default_factory=anyio.Event)
    error: BaseException | None = None
    count: int = 0


@dataclass(eq=False)
class _Replace(_Ticket):
    pair: int = 0
    items: AsyncIterable[RemoteItem] | None = None
    changes: AsyncIterable[RemoteChange] | None = None   # a merge rather than a replacement
    seal: Seal | None = None
    kept: bool = True                                     # False: the seal refused the merge


_Item = WriteOp | _Ticket


class StateWriter:
    """The handle callers use to send operations to the running writer task."""

    def __init__(self, store: StateStore, send: MemoryObjectSendStream[_Item], *,
                 batch: int = constants.STATE_BATCH,
                 flush_s: float = constants.STATE_FLUSH_S) -> None:
        self._store = store
        self._send = send
        self._batch = batch
        self._flush_s = flush_s
        self._pending: list[WriteOp] = []
        self._first_pending = math.inf
        self._failure: BaseException | None = None
        self._in_flight: _Ticket | None = None
        self.commits = 0
        """Transactions committed so far (for tests and metrics)."""

    @property
    def failure(self) -> BaseException | None:
        """The error that stopped the writer, or ``None`` while it is healthy."""
        return self._failure

    # Caller side ---------------------------------------------------------------------------

    async def send(self, op: WriteOp) -> None:
        """Queue ``op``; it is committed with the next batch."""
        await self._put(op)

    async def flush(self) -> None:
        """Return once every operation sent before this call is committed."""
        ticket = _Ticket()
        await self._put(ticket)
        await self._wait(ticket)

    async def replace_remote_items(self, pair: int, items: AsyncIterable[RemoteItem],
                                   seal: Seal | None = None) -> int:
        """Replace the pair's remote cache with ``items`` in one transaction; return the count.

        Operations sent earlier are committed first. If ``items`` raises, the previous cache is
        kept and the error is raised here; the writer goes on. The listing mark ``seal`` returns
        is recorded in the same transaction (without ``seal``, none is).
        """
        ticket = _Replace(pair=pair, items=items, seal=seal)
        await self._put(ticket)
        await self._wait(ticket)
        return ticket.count

    async def merge_remote_items(self, pair: int, changes: AsyncIterable[RemoteChange],
                                 seal: Seal) -> int | None:
        """Merge ``changes`` into the pair's remote cache in one transaction, committed only
        when ``seal`` (given how many items were new to the cache) returns a mark; return how
        many changes were merged, or ``None`` when the seal refused and nothing changed."""
        ticket = _Replace(pair=pair, changes=changes, seal=seal)
        await self._put(ticket)
        await self._wait(ticket)
        return ticket.count if ticket.kept else None

    async def _put(self, item: _Item) -> None:
        self._raise_failure()
        try:
            await put(self._send, item)  # room in the queue: no checkpoint per write
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            self._raise_failure()
            raise StateError(f"the state writer of {self._store.path} is closed") from None

    async def _wait(self, ticket: _Ticket) -> None:
        await ticket.done.wait()
        if ticket.error is not None:
            raise ticket.error

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    # Writer task ---------------------------------------------------------------------------

    async def serve(self, receive: MemoryObjectReceiveStream[_Item]) -> None:
        """The writer task: apply what arrives until the send side closes or a commit fails.

        It never raises: a failure is kept and raised to callers. What is pending when the task
        is cancelled is still committed.
        """
        with receive:
            try:
                await self._loop(receive)
                await self._commit()
            except anyio.get_cancelled_exc_class():
                self._take_buffered(receive)
                with anyio.CancelScope(shield=True):
                    await self._commit_or_fail()
                raise
            except Exception as exc:
                self._fail(exc)
            finally:
                self._release(receive)

    async def _loop(self, receive: MemoryObjectReceiveStream[_Item]) -> None:
        while True:
            timeout = self._first_pending + self._flush_s - anyio.current_time()
            item: _Item | None = None
            try:
                # what is already queued is taken without a deadline scope of its own
                item = receive.receive_nowait() if timeout > 0 else None
            except anyio.WouldBlock:
                with anyio.move_on_after(timeout):
                    try:
                        item = await receive.receive()
                    except anyio.EndOfStream:
                        return
            except anyio.EndOfStream:
                return
            # Handled outside the flush deadline: a remote-cache replacement takes as long as
            # the listing, and cutting it short at the deadline would leave its caller waiting.
            if item is None:
                await self._commit()
            else:
                await self._handle(item)

    async def _handle(self, item: _Item) -> None:
        if isinstance(item, _Ticket):
            self._in_flight = item
            await self._commit()
            if isinstance(item, _Replace):
                await self._replace(item)
            item.done.set()
            self._in_flight = None
        else:
            if not self._pending:
                self._first_pending = anyio.current_time()
            self._pending.append(item)
            if len(self._pending) >= self._batch:
                await self._commit()

    async def _commit(self) -> None:
        if not self._pending:
            return
        batch, self._pending, self._first_pending = self._pending, [], math.inf
        await anyio.to_thread.run_sync(self._store.write, batch)
        self.commits += 1

    async def _commit_or_fail(self) -> None:
        try:
            await self._commit()
        except Exception as exc:
            self._fail(exc)

    async def _replace(self, ticket: _Replace) -> None:
        store, run = self._store, anyio.to_thread.run_sync
        await run(store.begin)
        try:
            measure = await self._fill(ticket)
            mark = ticket.seal(measure) if ticket.seal is not None else None
            if mark is None and ticket.changes is not None:
                ticket.kept = False
                await run(store.rollback)
                return
            await run(store.set_listing, ticket.pair, mark)
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await run(store.rollback)
            if isinstance(exc, StateError) or not isinstance(exc, Exception):
                raise  # the writer itself cannot go on; the caller is told by _release
            ticket.error = exc  # the listing failed: the caller sees it, the writer goes on
            return
        await run(store.commit)
        self.commits += 1

    async def _fill(self, ticket: _Replace) -> int:
        """Write the ticket's rows; the rows inserted, or (a merge) the items new to the cache."""
        store, run = self._store, anyio.to_thread.run_sync
        if ticket.changes is None:
            await run(store.clear_remote_items, ticket.pair)
            async for chunk in _chunks(ticket.items or _nothing()):
                ticket.count += await run(store.insert_remote_items, ticket.pair, chunk)
            return ticket.count
        new = 0
        async for changes in _chunks(ticket.changes):
            ticket.count += len(changes)
            new += await run(store.merge_remote_items, ticket.pair, changes)
        return new

    def _fail(self, exc: BaseException) -> None:
        self._failure = exc
        self._pending.clear()
        _log.error("state writer stopped; nothing after the last commit was recorded",
                   database=str(self._store.path), error=exc)

    def _take_buffered(self, receive: MemoryObjectReceiveStream[_Item]) -> None:
        """Move operations already sent but not yet received into the pending batch."""
        while True:
            try:
                item = receive.receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                return
            if isinstance(item, _Ticket):
                item.error = StateError("the state writer stopped before this request")
                item.done.set()
            else:
                self._pending.append(item)

    def _release(self, receive: MemoryObjectReceiveStream[_Item]) -> None:
        """Wake every caller still waiting, with the failure if there was one."""
        if self._in_flight is not None and not self._in_flight.done.is_set():
            self._in_flight.error = self._failure or StateError("the state writer stopped")
            self._in_flight.done.set()
        while True:
            try:
                item = receive.receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                return
            if isinstance(item, _Ticket):
                item.error = self._failure or StateError("the state writer stopped")
                item.done.set()


async def _nothing() -> AsyncIterator[RemoteItem]:
    return
    yield  # pragma: no cover


async def _chunks(items: AsyncIterable[T]) -> AsyncIterator[list[T]]:
    chunk: list[T] = []
    async for item in items:
        chunk.append(item)
        if len(chunk) >= REMOTE_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@asynccontextmanager
async def running_writer(store: StateStore, *, batch: int = constants.STATE_BATCH,
                         flush_s: float = constants.STATE_FLUSH_S,
                         buffer: int = constants.STATE_QUEUE) -> AsyncIterator[StateWriter]:
    """Run a ``StateWriter`` over ``store`` for the duration of the block.

    Leaving the block commits everything sent and raises the writer's failure, if any.
    """
    send, receive = anyio.create_memory_object_stream[_Item](buffer)
    writer = StateWriter(store, send, batch=batch, flush_s=flush_s)
    error: Exception | None = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(writer.serve, receive)
        try:
            yield writer
            await writer.flush()
        except Exception as exc:
            error = exc  # raised below, outside the task group, so it is not wrapped in a group
        finally:
            send.close()
    if error is not None:
        raise error
