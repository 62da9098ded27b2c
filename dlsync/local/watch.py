"""Filesystem events as hints: which paths to look at again, never what happened to them.

The watcher is set up synchronously (every directory of the tree gets an inotify watch) and
only then reported ready, so a scan started afterwards cannot miss a change that falls between
them. Events may still be lost (kernel queue overflow, files created right after their new
directory): callers treat hints as a reason to stat and scan, and reconcile periodically.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import anyio
import anyio.to_thread
from watchfiles import Change
from watchfiles._rust_notify import RustNotify

from dlsync import constants

RawChanges = set[tuple[int, str]] | Literal["signal", "stop", "timeout"]


class HintKind(enum.StrEnum):
    """What the filesystem said happened to a path."""

    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"


_KINDS = {Change.added: HintKind.ADDED, Change.modified: HintKind.MODIFIED,
          Change.deleted: HintKind.DELETED}


@dataclass(frozen=True, slots=True)
class Hint:
    """One absolute path that changed somehow."""

    kind: HintKind
    path: Path


class Watch(Protocol):
    """An installed watch: wait for the next group of changes, then close."""

    def watch(self, debounce_ms: int, step_ms: int, timeout_ms: int,
              stop_event: threading.Event) -> RawChanges:
        """Block until changes arrive, the timeout passes, or ``stop_event`` is set."""
        ...

    def close(self) -> None:
        """Remove every watch."""
        ...


class WatchSource(Protocol):
    """Installs watches (the seam tests use to make the watcher fail)."""

    def open(self, paths: Sequence[Path]) -> Watch:
        """Watch ``paths`` recursively; raise ``OSError`` when the system refuses."""
        ...


class NotifyWatchSource:
    """watchfiles' native watcher (inotify on Linux)."""

    def open(self, paths: Sequence[Path]) -> Watch:
        """Install recursive watches on ``paths``."""
        return RustNotify([str(p) for p in paths], False, False, 300, True, False)


HintSink = Callable[[list[Hint]], Awaitable[None]]


async def open_watch(source: WatchSource, paths: Sequence[Path]) -> Watch:
    """Install the watches (in a thread: a large tree takes a while); raises what the system
    raised, e.g. ``OSError`` ENOSPC when the inotify watch limit is reached."""
    return await anyio.to_thread.run_sync(source.open, paths)


async def pump_hints(watch: Watch, sink: HintSink, stop: threading.Event) -> None:
    """Hand each group of changes to ``sink`` until ``stop`` is set; close the watch after."""
    try:
        while not stop.is_set():
            raw = await anyio.to_thread.run_sync(
                watch.watch, constants.WATCH_DEBOUNCE_MS, constants.WATCH_STEP_MS,
                constants.WATCH_TIMEOUT_MS, stop, abandon_on_cancel=True)
            if isinstance(raw, set) and raw:
                await sink(sorted(_hints(raw), key=lambda h: str(h.path)))
    finally:
        stop.set()
        watch.close()


def _hints(raw: set[tuple[int, str]]) -> list[Hint]:
    return [Hint(_KINDS.get(Change(code), HintKind.MODIFIED), Path(path)) for code, path in raw]
