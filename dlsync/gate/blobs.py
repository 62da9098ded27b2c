"""Content-addressed file contents: in a directory (sha256-named files) or in memory.

A directory store writes each upload to a temporary file chunk by chunk while hashing it, then
renames it to its sha256 name before the gate answers, so a killed gate never loses content it
acknowledged and never shows half a file under a final name. Content that is already stored is
not written over (a final name only ever holds complete content).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import Protocol


class BlobWriter(Protocol):
    """One upload being written: feed chunks, then finish (or discard)."""

    def write(self, chunk: bytes) -> None:
        """Append ``chunk``."""

    def finish(self) -> tuple[str, int]:
        """Make the content durable under its hash; returns (sha256 hex, size in bytes)."""

    def discard(self) -> None:
        """Forget what was written."""


class BlobStore(Protocol):
    """Where the gate keeps file contents, by sha256."""

    def writer(self) -> BlobWriter:
        """A writer for one new blob."""

    def path(self, sha256: str) -> Path | None:
        """The file holding ``sha256``, or None when blobs are not files."""

    def read(self, sha256: str, start: int = 0) -> bytes:
        """The bytes of ``sha256`` from offset ``start``."""


class _FileWriter:
    def __init__(self, root: Path, shards: set[str]) -> None:
        self._root = root
        self._shards = shards
        self._tmp = root / "tmp" / f"{secrets.token_hex(8)}.part"
        self._file = self._tmp.open("wb")
        self._hash = hashlib.sha256()
        self._size = 0

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._hash.update(chunk)
        self._size += len(chunk)

    def finish(self) -> tuple[str, int]:
        self._file.flush()
        self._file.close()
        digest = self._hash.hexdigest()
        final = self._root / digest[:2] / digest
        if final.exists():
            self._tmp.unlink()
        else:
            if digest[:2] not in self._shards:
                final.parent.mkdir(exist_ok=True)
                self._shards.add(digest[:2])
            os.replace(self._tmp, final)
        return digest, self._size

    def discard(self) -> None:
        self._file.close()
        self._tmp.unlink(missing_ok=True)


class DirectoryBlobs:
    """Blobs as files ``<root>/<first two hex digits>/<sha256>``."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._shards: set[str] = set()
        (root / "tmp").mkdir(parents=True, exist_ok=True)
        for stale in (root / "tmp").glob("*.part"):
            stale.unlink(missing_ok=True)

    def writer(self) -> BlobWriter:
        return _FileWriter(self._root, self._shards)

    def path(self, sha256: str) -> Path | None:
        return self._root / sha256[:2] / sha256

    def read(self, sha256: str, start: int = 0) -> bytes:
        with (self._root / sha256[:2] / sha256).open("rb") as blob:
            blob.seek(start)
            return blob.read()


class _MemoryWriter:
    def __init__(self, blobs: dict[str, bytes]) -> None:
        self._blobs = blobs
        self._parts: list[bytes] = []

    def write(self, chunk: bytes) -> None:
        self._parts.append(chunk)

    def finish(self) -> tuple[str, int]:
        data = b"".join(self._parts)
        digest = hashlib.sha256(data).hexdigest()
        self._blobs[digest] = data
        return digest, len(data)

    def discard(self) -> None:
        self._parts.clear()


class MemoryBlobs:
    """Blobs in a dict, for a gate that keeps nothing on disk."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}

    def writer(self) -> BlobWriter:
        return _MemoryWriter(self._blobs)

    def path(self, sha256: str) -> Path | None:
        return None

    def read(self, sha256: str, start: int = 0) -> bytes:
        return self._blobs[sha256][start:]
