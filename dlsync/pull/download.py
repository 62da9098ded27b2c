"""Download one item into the local folder: resumable, verified, then renamed into place.

The bytes stream into ``<path>.dlsync-part`` (ignored by the scanner). A part file left by an
interrupted run is resumed from its size (a ``Range`` request), after its bytes are hashed again.
The finished file must have the item's ``metadata.system.size`` and, when the item carries
dlsync's fingerprint, its SHA-256; only then is it fsync'ed and renamed to its name. A mismatch
removes the part file (the next run starts over) and raises ``IntegrityError``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.to_thread

from dlsync.constants import HASH_CHUNK, PART_SUFFIX
from dlsync.errors import IntegrityError, LocalFileError
from dlsync.model import Fingerprint

Fetch = Callable[[str, int], AsyncIterator[bytes]]
"""``fetch(item_id, offset)``: the item's bytes from ``offset`` (``DataloopClient.download``)."""


@dataclass(frozen=True, slots=True)
class Downloaded:
    """A file now in place: its fingerprint, stat and how many bytes this run fetched."""

    fingerprint: Fingerprint
    mtime_ns: int
    inode: int
    fetched: int
    resumed_from: int


def part_path(target: Path) -> Path:
    """The temporary file a download of ``target`` streams into."""
    return target.with_name(target.name + PART_SUFFIX)


async def download_item(fetch: Fetch, item_id: str, target: Path, size: int,
                        expected_sha256: str | None) -> Downloaded:
    """Fetch item ``item_id`` into ``target`` (which must not exist), verified; resumable."""
    part = part_path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, offset = await anyio.to_thread.run_sync(_rehash, part, size)
    fetched = 0
    try:
        async with await anyio.open_file(part, "ab") as handle:
            # a part already whole (its rename was cut short) or an empty item needs no request:
            # a Range past the end is refused (416)
            if offset < size:
                async for chunk in fetch(item_id, offset):
                    await handle.write(chunk)
                    digest.update(chunk)
                    fetched += len(chunk)
            await handle.flush()
            await anyio.to_thread.run_sync(os.fsync, handle.wrapped.fileno())
    except OSError as exc:
        raise LocalFileError(str(part), f"cannot write the download: {exc.strerror}") from exc
    sha = digest.hexdigest()
    have = offset + fetched
    if have != size or (expected_sha256 is not None and sha != expected_sha256):
        part.unlink(missing_ok=True)
        what = f"{have} bytes, expected {size}" if have != size else \
            f"SHA-256 {sha[:12]}…, expected {expected_sha256[:12] if expected_sha256 else ''}…"
        raise IntegrityError(f"download of item {item_id} to {target}: {what}; the partial file "
                             "was removed and the next pull fetches it again")
    return _place(part, target, Fingerprint(sha, size), fetched, offset)


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


def _place(part: Path, target: Path, fingerprint: Fingerprint, fetched: int,
           offset: int) -> Downloaded:
    if target.exists():
        raise LocalFileError(str(target), "appeared locally during the download; not "
                             f"overwritten (the download is kept in {part.name})")
    try:
        os.rename(part, target)
        st = os.stat(target)
    except OSError as exc:
        raise LocalFileError(str(target), f"cannot move the download into place: "
                             f"{exc.strerror}") from exc
    return Downloaded(fingerprint, st.st_mtime_ns, st.st_ino, fetched, offset)
