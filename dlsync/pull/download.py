"""Download one item into the local folder: resumable, verified, then handed over to be placed.

The bytes stream into ``<path>.dlsync-part`` (ignored by the scanner), held in memory up to
``PULL_WRITE_BUFFER`` bytes between writes, so a small item costs one write, made on the event
loop when it is at most ``PULL_INLINE_WRITE`` bytes (a write into the page cache costs less than
a hop to a worker thread) and in a worker thread otherwise. A part file left by
an interrupted run is resumed from its size (a ``Range`` request), after its bytes are hashed
again. The finished file must have the item's ``metadata.system.size`` and, when the item carries
dlsync's fingerprint, its SHA-256. A mismatch removes the part file (the next run starts over)
and raises ``IntegrityError``. The verified part comes back still open (``durable.Written``):
``durable.DurableBatches`` fsyncs it, renames it to its name and only then records it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread

from dlsync.constants import HASH_CHUNK, PART_SUFFIX, PULL_INLINE_WRITE, PULL_WRITE_BUFFER
from dlsync.errors import IntegrityError, LocalFileError
from dlsync.model import Fingerprint
from dlsync.pull.durable import Written

Fetch = Callable[[str, int], AsyncIterator[bytes]]
"""``fetch(item_id, offset)``: the item's bytes from ``offset`` (``DataloopClient.download``)."""

_PART_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True, slots=True)
class Downloaded:
    """A verified download, not yet in place: its fingerprint, the stat it will have, how many
    bytes this run fetched, and the open part file to place."""

    fingerprint: Fingerprint
    mtime_ns: int
    inode: int
    fetched: int
    resumed_from: int
    part: Written


def part_path(target: Path) -> Path:
    """The temporary file a download of ``target`` streams into."""
    return target.with_name(target.name + PART_SUFFIX)


async def download_item(fetch: Fetch, item_id: str, target: Path, size: int,
                        expected_sha256: str | None) -> Downloaded:
    """Fetch item ``item_id`` into the part file of ``target``, verified; resumable."""
    part = part_path(target)
    digest, offset = hashlib.sha256(), 0
    if part.exists():
        digest, offset = await anyio.to_thread.run_sync(_rehash, part, size)
    held: list[bytes] = []
    fd, fetched, holding = -1, 0, 0
    try:
        # a part already whole (its rename was cut short) or an empty item needs no request:
        # a Range past the end is refused (416)
        if offset < size:
            try:
                async for chunk in fetch(item_id, offset):
                    held.append(chunk)
                    fetched += len(chunk)
                    holding += len(chunk)
                    if holding >= PULL_WRITE_BUFFER:
                        fd = await anyio.to_thread.run_sync(_write_held, part, fd, held,
                                                            digest)
                        held, holding = [], 0
            except BaseException:
                # keep every byte received in the part file, for the next run to resume from
                if held:
                    with contextlib.suppress(OSError):
                        fd = _write_held(part, fd, held, None)
                raise
        have, sha, st = offset + fetched, "", None
        if have == size and holding <= PULL_INLINE_WRITE:
            # a small write into the page cache costs less than a hop to a worker thread;
            # the slow part, the fsync, happens in a batch (``durable``)
            fd, sha, st = _finish(part, fd, held, digest, expected_sha256)
        elif have == size:
            fd, sha, st = await anyio.to_thread.run_sync(_finish, part, fd, held, digest,
                                                         expected_sha256)
        if have != size or st is None:
            _close(fd)
            fd = -1
            part.unlink(missing_ok=True)
            what = f"{have} bytes, expected {size}" if have != size else \
                f"SHA-256 {sha[:12]}…, expected {expected_sha256[:12] if expected_sha256 else ''}…"
            raise IntegrityError(f"download of item {item_id} to {target}: {what}; the partial "
                                 "file was removed and the next pull fetches it again")
    except OSError as exc:
        _close(fd)
        raise LocalFileError(str(part), f"cannot write the download: {exc.strerror}") from exc
    except BaseException:
        _close(fd)
        raise
    written = Written(fd, part, target, exclusive=True, keep_on_failure=True)
    return Downloaded(Fingerprint(sha, size), st.st_mtime_ns, st.st_ino, fetched, offset,
                      written)


def _finish(part: Path, fd: int, held: list[bytes], digest: hashlib._Hash,
            expected: str | None) -> tuple[int, str, os.stat_result | None]:
    """Hash the last bytes; unless the SHA-256 differs from ``expected``, append them to the
    part file: (descriptor, SHA-256, the part's stat, ``None`` when the hash differs)."""
    data = b"".join(held)
    digest.update(data)
    sha = digest.hexdigest()
    if expected is not None and sha != expected:
        return fd, sha, None
    fd = _write_held(part, fd, [data], None)
    return fd, sha, os.fstat(fd)


def _write_held(part: Path, fd: int, held: list[bytes], digest: hashlib._Hash | None) -> int:
    """Hash (``digest`` given) and append ``held`` to the part file (opened, with its folder,
    when ``fd`` is -1): the descriptor. Called in a worker thread for large writes, where
    hashlib lets go of the GIL while it hashes."""
    data = b"".join(held) if len(held) != 1 else held[0]
    if digest is not None:
        digest.update(data)
    opened = fd < 0
    if opened:
        try:
            fd = os.open(part, _PART_FLAGS, 0o666)
        except FileNotFoundError:
            part.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(part, _PART_FLAGS, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except BaseException:
        if opened:  # the caller never saw this descriptor; one it passed in, it closes
            _close(fd)
        raise
    return fd


def _close(fd: int) -> None:
    if fd >= 0:
        with contextlib.suppress(OSError):
            os.close(fd)


def _rehash(part: Path, size: int) -> tuple[hashlib._Hash, int]:
    """The hash of an existing part file and its size; a part larger than the item restarts."""
    digest = hashlib.sha256()
    try:
        with open(part, "rb") as handle:
            have = os.fstat(handle.fileno()).st_size
            if have > size:
                raise FileNotFoundError
            while chunk := handle.read(HASH_CHUNK):
                digest.update(chunk)
            return digest, have
    except FileNotFoundError:
        part.unlink(missing_ok=True)
        return hashlib.sha256(), 0
    except OSError as exc:
        raise LocalFileError(str(part), f"cannot read the partial download: "
                             f"{exc.strerror}") from exc
