"""Content fingerprints: SHA-256 and size of a local file, read in bounded chunks.

A file whose size or mtime moves while it is read raises ``FileChangedError`` (retried once it
settles); a file that is gone raises ``FileVanishedError`` (skipped quietly: the next scan sees it
as deleted); any other read failure raises ``LocalFileError`` naming the path.

``read_small`` also keeps the bytes of a file up to a given size: the planner hands them to the
upload, so a small file is read once per run, and what is sent is exactly what was hashed.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread

from dlsync import constants
from dlsync.bounded import READ_FLAGS, read_up_to
from dlsync.errors import FileChangedError, FileVanishedError, LocalFileError
from dlsync.model import Fingerprint, LocalEntry


@dataclass(frozen=True, slots=True)
class FileRead:
    """A file's fingerprint and, when it was small enough to keep, the bytes hashed."""

    fingerprint: Fingerprint
    content: bytes | None = None


def fingerprint(root: Path, entry: LocalEntry) -> Fingerprint:
    """Hash ``root/entry.disk_path``; the file must still match the stat the scan saw."""
    return read_small(root, entry, keep=-1).fingerprint


def read_small(root: Path, entry: LocalEntry, keep: int) -> FileRead:
    """Hash ``root/entry.disk_path`` as ``fingerprint`` does, and keep its bytes when it holds
    at most ``keep`` of them. Kept bytes are those hashed, read while the file's size and mtime
    stayed those the scan saw."""
    path = os.path.join(root, entry.disk_path)
    try:
        fd = os.open(path, READ_FLAGS)
    except FileNotFoundError as exc:
        raise FileVanishedError(path, "removed before it could be read") from exc
    except OSError as exc:
        raise LocalFileError(path, f"cannot open: {exc.strerror}; skipped this run") from exc
    try:
        return _hash_open_file(path, fd, entry, keep)
    finally:
        os.close(fd)


async def fingerprint_async(root: Path, entry: LocalEntry) -> Fingerprint:
    """``fingerprint`` in a worker thread, so the event loop never waits on the disk."""
    return await anyio.to_thread.run_sync(fingerprint, root, entry)


def _hash_open_file(path: str, fd: int, entry: LocalEntry, keep: int) -> FileRead:
    before = os.fstat(fd)
    if not stat.S_ISREG(before.st_mode):
        raise LocalFileError(path, "is no longer a regular file; skipped this run")
    _check_unchanged(path, entry.size, entry.mtime_ns, before)
    content: bytes | None = None
    try:
        if before.st_size <= keep:
            content = read_up_to(fd, keep, before)
            sha256, size = hashlib.sha256(content).hexdigest(), len(content)
        else:
            sha256, size = _hash_chunks(fd)
    except OSError as exc:
        raise LocalFileError(path, f"read failed: {exc.strerror}; skipped this run") from exc
    after = os.fstat(fd)
    _check_unchanged(path, before.st_size, before.st_mtime_ns, after)
    if size != after.st_size:
        raise FileChangedError(path, f"read {size} bytes of {after.st_size}; will retry")
    return FileRead(Fingerprint(sha256=sha256, size=size), content)


def _hash_chunks(fd: int) -> tuple[str, int]:
    """The SHA-256 (hex) and byte count of the rest of ``fd``, read in bounded chunks."""
    digest = hashlib.sha256()
    size = 0
    while chunk := os.read(fd, constants.HASH_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _check_unchanged(path: str, size: int, mtime_ns: int, st: os.stat_result) -> None:
    if st.st_size != size or st.st_mtime_ns != mtime_ns:
        raise FileChangedError(path, "changed while being read; will retry once it settles")
