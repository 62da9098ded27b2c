"""Fingerprinting real files: hash, size, and the three failure outcomes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from dlsync import constants
from dlsync.errors import FileChangedError, FileVanishedError, LocalFileError, is_retryable
from dlsync.local.fingerprint import fingerprint, fingerprint_async
from dlsync.model import Fingerprint, LocalEntry, RelPath


def entry_for(root: Path, rel: str) -> LocalEntry:
    st = (root / rel).stat()
    return LocalEntry(RelPath(rel), st.st_size, st.st_mtime_ns, st.st_ino)


@pytest.mark.parametrize("size", [0, 1, constants.HASH_CHUNK, constants.HASH_CHUNK * 2 + 7])
def test_hash_matches_sha256_across_chunk_boundaries(tmp_path: Path, size: int) -> None:
    """The fingerprint is the SHA-256 and byte count of the whole file at any size."""
    data = os.urandom(size)
    (tmp_path / "f.bin").write_bytes(data)
    got = fingerprint(tmp_path, entry_for(tmp_path, "f.bin"))
    assert got == Fingerprint(hashlib.sha256(data).hexdigest(), size)


async def test_async_wrapper_gives_the_same_fingerprint(tmp_path: Path) -> None:
    """The worker-thread wrapper returns what the blocking call returns."""
    (tmp_path / "n é.txt").write_bytes(b"hello")
    entry = entry_for(tmp_path, "n é.txt")
    assert await fingerprint_async(tmp_path, entry) == fingerprint(tmp_path, entry)


def test_file_modified_since_scan_is_changed_and_retryable(tmp_path: Path) -> None:
    """A file whose size differs from the scanned stat raises a retryable FileChangedError."""
    (tmp_path / "f.bin").write_bytes(b"abc")
    entry = entry_for(tmp_path, "f.bin")
    (tmp_path / "f.bin").write_bytes(b"abcdef")
    with pytest.raises(FileChangedError) as info:
        fingerprint(tmp_path, entry)
    assert is_retryable(info.value)
    assert info.value.path.endswith("f.bin")


def test_touched_file_is_changed(tmp_path: Path) -> None:
    """Same size but another mtime since the scan still counts as changed."""
    (tmp_path / "f.bin").write_bytes(b"abc")
    entry = entry_for(tmp_path, "f.bin")
    os.utime(tmp_path / "f.bin", ns=(entry.mtime_ns + 10**9, entry.mtime_ns + 10**9))
    with pytest.raises(FileChangedError):
        fingerprint(tmp_path, entry)


def test_vanished_file_is_its_own_outcome(tmp_path: Path) -> None:
    """A file removed after the scan raises FileVanishedError, neither retryable nor changed."""
    (tmp_path / "f.bin").write_bytes(b"abc")
    entry = entry_for(tmp_path, "f.bin")
    (tmp_path / "f.bin").unlink()
    with pytest.raises(FileVanishedError) as info:
        fingerprint(tmp_path, entry)
    assert not is_retryable(info.value)


def test_directory_in_place_of_file_is_a_local_error(tmp_path: Path) -> None:
    """A path that can be opened but not read as a file raises LocalFileError naming it."""
    (tmp_path / "d").mkdir()
    entry = LocalEntry(RelPath("d"), 0, 0, 0)
    with pytest.raises(LocalFileError, match="no longer a regular file") as info:
        fingerprint(tmp_path, entry)
    assert not isinstance(info.value, FileChangedError)
