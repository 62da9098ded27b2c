"""Value types shared by the scanner, the state store, the planner and the executor.

Paths: a ``RelPath`` is a POSIX path relative to the sync root, Unicode NFC, without a leading
slash (``"a/b.jpg"``). The remote item for it has ``filename == remote_dir + "/" + relpath``
(DESIGN.md decision 1).
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass, field
from typing import Any, NamedTuple, NewType

RelPath = NewType("RelPath", str)


def rel_path(path: str) -> RelPath:
    """Normalise a ``/``-separated relative path: NFC, no leading or trailing slash.

    A backslash is an ordinary character of a POSIX file name and of a platform item name, so it
    is kept: turning it into a separator would make ``..\\x`` the path ``../x``.
    """
    return RelPath(unicodedata.normalize("NFC", path).strip("/"))


def is_contained(path: str) -> bool:
    """True when ``path`` joined to a root stays inside it: relative, no ``""``, ``.``, ``..``
    segment and no NUL. Remote names that fail this are never mapped to local paths."""
    return (bool(path) and not path.startswith("/") and "\x00" not in path
            and not any(s in ("", ".", "..") for s in path.split("/")))


def path_key(path: str) -> bytes:
    """The sort key every listing is merge-joined on: UTF-8 bytes with ``/`` as ``NUL``.

    Ordering by this key equals ordering by path components, which is the order of a depth-first
    walk that visits each directory's entries sorted by their UTF-8 names. SQLite compares BLOBs
    with memcmp, so an indexed BLOB column of these keys yields the same order.
    """
    return path.encode("utf-8", "surrogateescape").replace(b"/", b"\x00")


def printable(text: str) -> str:
    """``text`` on one line: control characters and undecodable bytes shown as escapes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


def remote_filename(remote_dir: str, path: RelPath) -> str:
    """The remote ``filename`` of ``path`` under ``remote_dir`` (``"/"`` or ``"/dir"``)."""
    return f"{remote_dir.rstrip('/')}/{path}"


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What identifies a file's content: its SHA-256 (hex) and size in bytes."""

    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class LocalEntry:
    """One regular file found by the scan, with the ``stat`` fields change detection uses."""

    path: RelPath
    size: int
    mtime_ns: int
    inode: int
    annotation_path: str | None = None  # absolute path of its annotation JSON, if any
    annotation_size: int = 0            # stat of that JSON: a change re-reads it
    annotation_mtime_ns: int = 0
    name_on_disk: str | None = None     # the relative path as spelled on disk, when not NFC

    @property
    def disk_path(self) -> str:
        """The relative path to open: the on-disk spelling (e.g. NFD), else ``path``."""
        return self.name_on_disk or self.path


class ProblemKind(enum.StrEnum):
    """Why the scan could not use a path."""

    UNREADABLE = "unreadable"
    VANISHED = "vanished"
    UNDECODABLE_NAME = "undecodable-name"
    SYMLINK_LOOP = "symlink-loop"
    NOT_A_FILE = "not-a-file"
    DUPLICATE_NAME = "duplicate-name"   # another name in the directory has the same NFC form

    @property
    def by_policy(self) -> bool:
        """True for paths left out on purpose (a symbolic link not followed, a special file, a
        link loop): reported as excluded, never a failure, as rclone and Syncthing do. The
        other kinds could sync once the user acts (rename, fix permissions): failures."""
        return self in (ProblemKind.NOT_A_FILE, ProblemKind.SYMLINK_LOOP)


@dataclass(frozen=True, slots=True)
class ScanProblem:
    """A path the scan had to pass over, reported as data rather than raised."""

    path: str
    kind: ProblemKind
    reason: str


class FileStatus(enum.StrEnum):
    """Where a tracked file stands in state."""

    PENDING = "pending"      # seen locally, not yet confirmed remote
    SYNCED = "synced"        # remote item confirmed with this content and annotations
    FAILED = "failed"        # last attempt failed; retried next run
    CONFLICT = "conflict"    # both sides changed; needs a person
    DELETED = "deleted"      # removed locally; remote item kept or deleted per policy


@dataclass(frozen=True, slots=True)
class StateRecord:
    """What state remembers of one file of one sync pair."""

    path: RelPath
    size: int
    mtime_ns: int
    inode: int
    sha256: str | None
    item_id: str | None
    annotations_hash: str | None
    status: FileStatus
    annotation_size: int = 0            # stat of the annotation JSON when last read
    annotation_mtime_ns: int = 0
    attempts: int = 0
    last_error: str | None = None
    annotation_ids: tuple[tuple[str, str], ...] = ()  # (canonical hash, remote annotation id)


@dataclass(frozen=True, slots=True)
class RemoteItem:
    """A remote item as the listing shows it, relative to the sync pair's remote folder."""

    item_id: str
    path: RelPath
    size: int
    fingerprint: Fingerprint | None     # from the dlsync key of the item's user metadata
    annotations_hash: str | None
    user_metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


class RemoteChange(NamedTuple):
    """One item an incremental listing saw change, and its listing entry (``None``: it has
    none, e.g. it was moved into the backup folder)."""

    item_id: str
    entry: RemoteItem | None


class ActionKind(enum.StrEnum):
    """What the executor does with one path. The rclone-style marker is ``ActionKind.marker``."""

    UPLOAD = "upload"                # new file, mode=skip
    OVERWRITE = "overwrite"          # changed file, mode=overwrite
    MOVE = "move"                    # renamed file: PATCH filename, keeps the item id
    ANNOTATE = "annotate"            # annotation set changed: post new, delete dlsync's removed
    UPDATE_METADATA = "update-metadata"
    ADOPT = "adopt"                  # remote item already matches by fingerprint: record only
    REUPLOAD = "reupload"            # tracked as synced but missing remotely
    DELETE = "delete"                # local file gone, deletes enabled
    DELETE_ANNOTATIONS = "delete-annotations"  # net removal of dlsync's annotations on an item
    CONFLICT = "conflict"            # both sides changed; reported, nothing written
    ERROR = "error"                  # the path cannot be synced (reported with the reason)
    EXCLUDED = "excluded"            # left out by policy: symlink not followed, special file

    @property
    def marker(self) -> str:
        return _MARKERS[self]


_MARKERS = {
    ActionKind.UPLOAD: "+",
    ActionKind.REUPLOAD: "+",
    ActionKind.OVERWRITE: "*",
    ActionKind.ANNOTATE: "*",
    ActionKind.UPDATE_METADATA: "*",
    ActionKind.MOVE: ">",
    ActionKind.DELETE: "-",
    ActionKind.DELETE_ANNOTATIONS: "-",
    ActionKind.ADOPT: "=",
    ActionKind.CONFLICT: "!",
    ActionKind.ERROR: "!",
    ActionKind.EXCLUDED: "~",
}


@dataclass(frozen=True, slots=True)
class Action:
    """One step of a plan, with the reason it was chosen."""

    kind: ActionKind
    path: RelPath
    reason: str
    size: int = 0
    item_id: str | None = None
    source: RelPath | None = None        # for MOVE: the old path
    sha256: str | None = None            # content fingerprint when already known
    added: int = 0                       # annotations this action posts, when known
    removed: int = 0                     # annotations it deletes (replaced, or net removals)


DESTRUCTIVE_KINDS = frozenset({ActionKind.DELETE, ActionKind.DELETE_ANNOTATIONS,
                               ActionKind.OVERWRITE})
"""Kinds the executor runs only when the destruction gate admitted the job."""


class Direction(enum.StrEnum):
    """Which way a pair syncs."""

    PUSH = "push"                          # local files and annotations to the remote
    PULL_ANNOTATIONS = "pull-annotations"  # remote annotations into local files
    BOTH = "both"


class ConflictPolicy(enum.StrEnum):
    """What wins when both sides changed the same item."""

    KEEP_BOTH = "keep-both"  # keep the remote version, upload the local one beside it
    LOCAL = "local"
    REMOTE = "remote"
