"""Sample values shared by the state tests."""

from __future__ import annotations

from collections.abc import Iterable

from dlsync.model import FileStatus, Fingerprint, RelPath, RemoteItem, StateRecord, rel_path
from dlsync.state import PairSpec

SPEC = PairSpec(name="cameras", source="/data/cameras", remote_url="local", project="Vision",
                dataset="cameras", remote_dir="/")

TRICKY = ["a/b", "a-c", "a", "a/b/c", "a.b", "ab", "é", "e\u0301x", "z", "Z", "a b", "日本/語",
          "a/b-c", "a/b/c/d"]
"""Names whose path_key order differs from plain string order."""


def record(path: str, *, size: int = 1, sha256: str | None = "00", item_id: str | None = None,
           status: FileStatus = FileStatus.SYNCED, error: str | None = None) -> StateRecord:
    """A state record with plausible defaults."""
    return StateRecord(path=rel_path(path), size=size, mtime_ns=1, inode=1, sha256=sha256,
                       item_id=item_id, annotations_hash=None, status=status,
                       last_error=error)


def remote(path: str, *, item_id: str | None = None, sha256: str = "00") -> RemoteItem:
    """A remote item carrying a dlsync fingerprint."""
    return RemoteItem(item_id=item_id or f"id-{path}", path=rel_path(path), size=1,
                      fingerprint=Fingerprint(sha256, 1), annotations_hash=None)


def paths(records: Iterable[StateRecord | RemoteItem]) -> list[RelPath]:
    """The paths of records or remote items, in iteration order."""
    return [r.path for r in records]
