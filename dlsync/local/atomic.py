"""Replacing a local file (an annotation or label file, a classes file, a COCO file) so that a
reader, or a crash, sees the old file or the new one, never half of one.

The new content goes to a temporary file in the target's directory (``.dlsync-*.tmp``, a name
the scanner ignores), takes the permissions of the file it replaces (a new file gets 0o644:
reading the umask is not thread-safe), is flushed and fsync'ed, and is then renamed over the
target. A failure removes the temporary file and raises ``LocalFileError`` naming the target.
``write_unsynced`` does only the first half (a pull makes many such files durable together).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from dlsync.errors import LocalFileError

NEW_FILE_MODE = 0o644


def write_text(target: Path, text: str) -> None:
    """Replace ``target`` with ``text`` (UTF-8)."""
    with replacing(target) as handle:
        handle.write(text)


def write_bytes(target: Path, data: bytes) -> None:
    """Replace ``target`` with ``data``."""
    with _replacing(target, "wb") as handle:
        handle.write(data)


def write_unsynced(target: Path, data: bytes) -> tuple[int, str]:
    """``data`` in a new temporary file beside ``target`` (a new file: ``NEW_FILE_MODE``),
    neither fsync'ed nor renamed: its still open descriptor and its name.

    The caller finishes the replacement (fsync through that descriptor, so a write-back error is
    seen, then rename over ``target``); until it does, a crash leaves at most the temporary
    file, which the scanner ignores.
    """
    try:
        fd, temp = tempfile.mkstemp(prefix=".dlsync-", suffix=".tmp", dir=target.parent)
    except FileNotFoundError:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".dlsync-", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise LocalFileError(str(target), f"cannot write: {exc.strerror or exc}") from exc
    try:
        os.fchmod(fd, NEW_FILE_MODE)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except BaseException as exc:
        os.close(fd)
        _remove_quietly(temp)
        if isinstance(exc, OSError):
            raise LocalFileError(str(target), f"cannot write: {exc.strerror or exc}") from exc
        raise
    return fd, temp


@contextlib.contextmanager
def replacing(target: Path) -> Iterator[TextIO]:
    """A UTF-8 text handle whose content replaces ``target`` when the block ends without error."""
    with _replacing(target, "w") as handle:
        yield handle


@contextlib.contextmanager
def _replacing(target: Path, mode: str) -> Iterator[Any]:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".dlsync-", suffix=".tmp", dir=target.parent)
    binary = "b" in mode
    try:
        with os.fdopen(fd, mode, encoding=None if binary else "utf-8",
                       newline=None if binary else "\n") as handle:
            yield handle
            handle.flush()
            os.fchmod(handle.fileno(), _mode_for(target))
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except OSError as exc:
        _remove_quietly(temp)
        raise LocalFileError(str(target), f"cannot write: {exc.strerror or exc}") from exc
    except BaseException:
        _remove_quietly(temp)
        raise


def _mode_for(target: Path) -> int:
    """The permission bits of the file being replaced, else ``NEW_FILE_MODE``."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        return NEW_FILE_MODE


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
