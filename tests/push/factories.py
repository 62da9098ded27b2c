"""Small constructors for the value types the sync tables are written in."""

from __future__ import annotations

from dlsync.model import (
    FileStatus,
    Fingerprint,
    LocalEntry,
    ProblemKind,
    RelPath,
    RemoteItem,
    ScanProblem,
    StateRecord,
)

SHA_A = "a" * 64
SHA_B = "b" * 64


def local(path: str, size: int = 10, mtime_ns: int = 1, inode: int = 1,
          annotation: str | None = None, annotation_size: int = 0,
          annotation_mtime_ns: int = 0) -> LocalEntry:
    return LocalEntry(RelPath(path), size, mtime_ns, inode, annotation, annotation_size,
                      annotation_mtime_ns)


def state(path: str, size: int = 10, mtime_ns: int = 1, inode: int = 1,
          sha256: str | None = SHA_A, item_id: str | None = "item-1",
          annotations_hash: str | None = None, status: FileStatus = FileStatus.SYNCED,
          annotation_size: int = 0, annotation_mtime_ns: int = 0,
          last_error: str | None = None) -> StateRecord:
    return StateRecord(RelPath(path), size, mtime_ns, inode, sha256, item_id, annotations_hash,
                       status, annotation_size, annotation_mtime_ns, last_error=last_error)


def remote(path: str, sha256: str | None = SHA_A, size: int = 10,
           item_id: str = "item-1") -> RemoteItem:
    fingerprint = Fingerprint(sha256, size) if sha256 else None
    return RemoteItem(item_id, RelPath(path), size, fingerprint, None)


def problem(path: str, kind: ProblemKind = ProblemKind.UNREADABLE) -> ScanProblem:
    return ScanProblem(path, kind, "cannot list directory: Permission denied")
