"""Replacing a label file so a reader (or a crash) sees the old file or the new one, never half.

The new content goes to a temporary file in the target's directory (``.dlsync-*.tmp``, a name
the scanner ignores), takes the permissions of the file it replaces (a new file gets 0o644:
reading the umask is not thread-safe), is flushed and fsync'ed, and is then renamed over the
target. A failure removes the temporary file and raises ``LocalFileError`` naming the target.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from dlsync.errors import LocalFileError

NEW_FILE_MODE = 0o644


def write_text(target: Path, text: str) -> None:
    """Replace ``target`` with ``text`` (UTF-8)."""
    with replacing(target) as handle:
        handle.write(text)


@contextlib.contextmanager
def replacing(target: Path) -> Iterator[TextIO]:
    """A UTF-8 text handle whose content replaces ``target`` when the block ends without error."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".dlsync-", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
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
