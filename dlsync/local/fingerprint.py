"""Content fingerprints: SHA-256 and size of a local file, read in bounded chunks.

A file whose size or mtime moves while it is read raises ``FileChangedError`` (retried once it
settles); a file that is gone raises ``FileVanishedError`` (skipped quietly: the next scan sees it
as deleted); any other read failure raises ``LocalFileError`` naming the path.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import anyio.to_thread

from dlsync import constants
from dlsync.errors import FileChangedError, FileVanishedError, LocalFileError
from dlsync.model import Fingerprint, LocalEntry


def fingerprint(root: Path, entry: LocalEntry) -> Fingerprint:
    """Hash ``root/entry.disk_path``; the file must still match the stat the scan saw."""
    path = os.path.join(root, entry.disk_path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except FileNotFoundError as exc:
        raise FileVanishedError(path, "removed before it could be read") from exc
    except OSError as exc:
        raise LocalFileError(path, f"cannot open: {exc.strerror}; skipped this run") from exc
    try:
        return _hash_open_file(path, fd, entry)
    finally:
        os.close(fd)


async def fingerprint_async(root: Path, entry: LocalEntry) -> Fingerprint:
    """``fingerprint`` in a worker thread, so the event loop never waits on the disk."""
    return await anyio.to_thread.run_sync(fingerprint, root, entry)


def _hash_open_file(path: str, fd: int, entry: LocalEntry) -> Fingerprint:
    before = os.fstat(fd)
    if not stat.S_ISREG(before.st_mode):
        raise LocalFileError(path, "is no longer a regular file; skipped this run")
    _check_unchanged(path, entry.size, entry.mtime_ns, before)
    digest = hashlib.sha256()
    size = 0
    try:
        while chunk := os.read(fd, constants.HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    except OSError as exc:
        raise LocalFileError(path, f"read failed: {exc.strerror}; skipped this run") from exc
    after = os.fstat(fd)
    _check_unchanged(path, before.st_size, before.st_mtime_ns, after)
    if size != after.st_size:
        raise FileChangedError(path, f"read {size} bytes of {after.st_size}; will retry")
    return Fingerprint(sha256=digest.hexdigest(), size=size)


def _check_unchanged(path: str, size: int, mtime_ns: int, st: os.stat_result) -> None:
    if st.st_size != size or st.st_mtime_ns != mtime_ns:
        raise FileChangedError(path, "changed while being read; will retry once it settles")
