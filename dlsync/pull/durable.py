"""Files a pull wrote become durable in batches, and are recorded only once they are.

An item's new files (its download, its new annotation file) are written under temporary names
(``<name>.dlsync-part``, ``.dlsync-*.tmp``) and verified, and their descriptors stay open. The
item's state writes wait with them in a ``Landing``. ``DurableBatches`` takes the landings that
are ready (up to ``PULL_DURABLE_FILES`` files, waiting at most ``PULL_DURABLE_LINGER_S`` for
more while the previous batch is busy) and, in one worker thread:

1. fsyncs every file through the descriptor it was written with (so a write-back error is
   reported to this process), then closes it;
2. renames each file to its name (a download refuses a name that appeared meanwhile; an
   annotation file replaces, as ``local.atomic`` does);
3. fsyncs each directory it renamed into, once per batch;

and only then sends the items' state writes, in the order the items finished. A landing whose
file fails (fsync, rename) fails alone: nothing of it is recorded, and the item's error is
raised to the task waiting for it. A crash, or a stop, before step 1 finishes leaves part and
temporary files and no record; after it, files in place whose records may be missing. The
guarantee and the recovery are written down in docs/operations.md ("Pull durability").
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.to_thread

from dlsync import constants, logs
from dlsync.errors import LocalFileError, StateError
from dlsync.state.ops import WriteOp
from dlsync.state.store import StateStore
from dlsync.state.writer import StateWriter

_log = logs.get_logger(__name__)


@dataclass(slots=True)
class Written:
    """One file written and verified under ``temp``, its descriptor ``fd`` still open."""

    fd: int
    temp: Path
    target: Path
    exclusive: bool          # a download: never replaces a file that appeared at ``target``
    keep_on_failure: bool    # a part file stays to be resumed; a temporary file is removed

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.fd = -1

    def discard(self) -> None:
        """Close the file; remove it unless it is a part file a later run resumes."""
        self.close()
        if not self.keep_on_failure:
            with contextlib.suppress(OSError):
                os.unlink(self.temp)


@dataclass(eq=False, slots=True)
class Landing:
    """One item's written files and the state writes and counts that wait for them."""

    files: list[Written] = field(default_factory=list)
    ops: list[WriteOp] = field(default_factory=list)
    then: list[Callable[[], None]] = field(default_factory=list)
    done: anyio.Event = field(default_factory=anyio.Event)
    error: BaseException | None = None
    queued: bool = False     # handed to DurableBatches, which alone places or gives it up

    def mark(self) -> tuple[int, int, int]:
        """Where the landing stands now, to ``rewind`` to."""
        return len(self.files), len(self.ops), len(self.then)

    def rewind(self, mark: tuple[int, int, int]) -> None:
        """Back to ``mark``: files added since are given up, their writes and counts dropped."""
        files, ops, then = mark
        for one in self.files[files:]:
            one.discard()
        del self.files[files:], self.ops[ops:], self.then[then:]

    def discard(self) -> None:
        """Give the item up before it is queued: its files closed (part files kept), nothing
        recorded. Once queued it is the batches' to finish (a stop gives it up there)."""
        if not self.queued:
            self.give_up()

    def give_up(self) -> None:
        for one in self.files:
            one.discard()


class DurableBatches:
    """Makes landings durable in batches, then records them; see the module docstring."""

    def __init__(self, writer: StateWriter, store: StateStore, *,
                 files: int = constants.PULL_DURABLE_FILES,
                 linger_s: float = constants.PULL_DURABLE_LINGER_S) -> None:
        self._writer = writer
        self._store = store
        self._files = files
        self._linger_s = linger_s
        self._queue: list[Landing] = []
        self._queued_files = 0
        self._ready = anyio.Event()
        self._full = anyio.Event()
        self._closed = False

    async def land(self, landing: Landing) -> None:
        """Record ``landing`` once its files are durable; raise its error if it failed.
        A landing without files is recorded at once."""
        if self._closed:
            landing.discard()
            raise StateError("the pull's durable batches are closed")
        if not landing.files:
            await self._record(landing)
            return
        landing.queued = True
        self._queue.append(landing)
        self._queued_files += len(landing.files)
        self._ready.set()
        if self._queued_files >= self._files:
            self._full.set()
        await landing.done.wait()
        if landing.error is not None:
            raise landing.error

    async def serve(self) -> None:
        """The batch task: until closed and drained, make what is queued durable."""
        try:
            while True:
                await self._ready.wait()
                if not self._queue:
                    if self._closed:
                        return
                    self._ready = anyio.Event()
                    continue
                if not self._closed and self._queued_files < self._files:
                    with anyio.move_on_after(self._linger_s):
                        await self._full.wait()
                await self._one_batch()
        finally:
            self._abandon()

    def close(self) -> None:
        """No more landings: ``serve`` returns once the queue is empty."""
        self._closed = True
        self._ready.set()

    async def _one_batch(self) -> None:
        batch: list[Landing] = []
        taken = 0
        while self._queue and (not batch or taken + len(self._queue[0].files) <= self._files):
            landing = self._queue.pop(0)
            batch.append(landing)
            taken += len(landing.files)
        self._queued_files -= taken
        self._full = anyio.Event()
        if self._queued_files >= self._files:
            self._full.set()
        # the thread's renames and the records after them are one step: a stop arriving while
        # the thread runs still records what it placed
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_make_durable, batch)
            for landing in batch:
                if landing.error is None:
                    try:
                        await self._record(landing)
                    except Exception as exc:
                        landing.error = exc
                landing.done.set()

    async def _record(self, landing: Landing) -> None:
        try:
            for op in landing.ops:
                await self._writer.send(op)
        except StateError:
            if self._writer.failure is not None or not landing.files:
                raise
            # the run was stopped while this landing's files were placed, and the writer has
            # already committed what it had and closed: the records go in directly
            await anyio.to_thread.run_sync(self._store.write, landing.ops)
        for count in landing.then:
            count()

    def _abandon(self) -> None:
        """Stopped: every queued landing is given up (part files kept for the next run)."""
        self._closed = True
        for landing in self._queue:
            landing.give_up()
            landing.error = StateError("the pull stopped before the file was durable; the "
                                       "next pull finishes it")
            landing.done.set()
        self._queue.clear()


@asynccontextmanager
async def durable_batches(writer: StateWriter, store: StateStore) -> AsyncIterator[
        DurableBatches]:
    """``DurableBatches`` over ``writer`` for the block; leaving it drains the queue."""
    batches = DurableBatches(writer, store)
    async with anyio.create_task_group() as tg:
        tg.start_soon(batches.serve)
        try:
            yield batches
        finally:
            batches.close()


def _make_durable(batch: list[Landing]) -> None:
    """fsync every file, rename each into place, fsync their directories (a worker thread)."""
    _sync_files(batch)
    _sync_folders(batch, _place_files(batch))


def _sync_files(batch: list[Landing]) -> None:
    for landing in batch:
        for one in landing.files:
            if landing.error is not None:
                break
            try:
                os.fsync(one.fd)
            except OSError as exc:
                _fail(landing, LocalFileError(str(one.temp), "cannot make the file durable: "
                                              f"{exc.strerror}"))
            finally:
                one.close()


def _place_files(batch: list[Landing]) -> set[Path]:
    """Rename the files of each landing still good; the folders they went into."""
    folders: set[Path] = set()
    for landing in batch:
        if landing.error is not None:
            continue
        for one in landing.files:
            try:
                _rename(one)
            except LocalFileError as exc:
                _fail(landing, exc)
                break
            folders.add(one.target.parent)
    return folders


def _sync_folders(batch: list[Landing], folders: set[Path]) -> None:
    for folder in folders:
        try:
            _fsync_directory(folder)
        except OSError as exc:
            for landing in batch:
                if landing.error is None and any(f.target.parent == folder
                                                 for f in landing.files):
                    landing.error = LocalFileError(str(folder), "cannot make the folder "
                                                   f"durable: {exc.strerror}")


def _rename(one: Written) -> None:
    if one.exclusive and os.path.lexists(one.target):
        raise LocalFileError(str(one.target), "appeared locally during the download; not "
                             f"overwritten (the download is kept in {one.temp.name})")
    try:
        os.rename(one.temp, one.target)
    except OSError as exc:
        raise LocalFileError(str(one.target), f"cannot move the file into place: "
                             f"{exc.strerror}") from exc


def _fail(landing: Landing, error: LocalFileError) -> None:
    """The landing's item fails; its files not yet renamed are given up."""
    if landing.error is None:
        landing.error = error
    for one in landing.files:
        if os.path.lexists(one.temp):
            one.discard()


def _fsync_directory(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
