"""The local files a pull writes: annotation files in their layout, conflict copies, atomically.

Every write goes to a temporary file in the target's directory (``.dlsync-*``, which the scanner
ignores), is flushed and fsync'ed, and then renamed over the target, so a reader (or a crash)
sees the old file or the new one, never half of one. A new Dataloop JSON file of a pull is
written the same way, but fsync'ed and renamed with others in a batch (``durable``).

A conflict copy sits beside the annotation file: ``b.json`` gets ``b.conflict-<UTC time>.json``
(``b.jpg.json`` gets ``b.jpg.conflict-<UTC time>.json``); the scanner ignores those names.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dlsync.constants import CONFLICT_MARK
from dlsync.errors import AnnotationFileError, LocalFileError
from dlsync.local import atomic
from dlsync.local.annotations import load_annotation_file
from dlsync.local.layout import AnnotationLayout, LayoutKind
from dlsync.model import RelPath
from dlsync.pull.durable import Written

_JSON = ".json"
_LABEL_SUFFIXES = (".txt", ".xml")


@dataclass(frozen=True, slots=True)
class FileStat:
    """The stat fields state keeps of an annotation file."""

    size: int
    mtime_ns: int


def annotation_candidates(root: Path, layout: AnnotationLayout, path: RelPath) -> list[Path]:
    """Where the scan looks for the annotation file of ``path``, preferred name first.

    A new file is written at the last candidate: ``DIR/a/b.json`` in a directory layout (as
    dtlpy's JSON download names it), ``a/b.jpg.json`` beside the item otherwise.
    """
    if layout.kind is LayoutKind.SIDECAR:
        return [root / (path + _JSON)]
    if layout.kind is LayoutKind.DIRECTORY and layout.directory is not None:
        folder, _, name = path.rpartition("/")
        base = layout.directory / folder if folder else layout.directory
        if not layout.is_dataloop:
            return [base / (os.path.splitext(name)[0] + layout.suffix)]
        return [base / (name + _JSON), base / (os.path.splitext(name)[0] + _JSON)]
    return []


def find_annotation_file(root: Path, layout: AnnotationLayout, path: RelPath) -> Path | None:
    """The annotation file the push side would read for ``path``, or ``None``."""
    for candidate in annotation_candidates(root, layout, path):
        if candidate.is_file():
            return candidate
    return None


def new_annotation_file(root: Path, layout: AnnotationLayout, path: RelPath) -> Path | None:
    """Where a pull creates the annotation file of ``path``; ``None`` when the layout has none."""
    candidates = annotation_candidates(root, layout, path)
    return candidates[-1] if candidates else None


def stat_of(path: Path) -> FileStat:
    """The size and mtime of ``path`` (``LocalFileError`` naming it when it cannot be read)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise LocalFileError(str(path), f"cannot stat: {exc.strerror}") from exc
    return FileStat(st.st_size, st.st_mtime_ns)


def local_set_hash(path: Path | None, recorded: FileStat | None, recorded_hash: str | None,
                   set_hash_of: Callable[[Path], str] | None = None) -> str | None:
    """The set hash of the annotation file at ``path`` (``None``: there is none).

    When its stat equals ``recorded`` the file was not touched and ``recorded_hash`` stands for
    it; otherwise it is read (by ``set_hash_of``, Dataloop JSON when not given). Raises
    ``AnnotationFileError`` naming the file when unusable.
    """
    if path is None:
        return None
    if recorded is not None and stat_of(path) == recorded and recorded_hash is not None:
        return recorded_hash
    return (set_hash_of or _json_set_hash)(path)


def write_atomically(target: Path, data: bytes) -> FileStat:
    """Replace ``target`` with ``data`` (``local.atomic``); return its new stat."""
    atomic.write_bytes(target, data)
    return stat_of(target)


def write_unsynced(target: Path, data: bytes) -> tuple[Written, FileStat]:
    """``data`` in a temporary file beside ``target``, still open, for ``DurableBatches`` to
    fsync and rename over ``target``; the stat the file will have there."""
    fd, temp = atomic.write_unsynced(target, data)
    try:
        st = os.fstat(fd)
    except OSError as exc:
        Written(fd, Path(temp), target, exclusive=False, keep_on_failure=False).discard()
        raise LocalFileError(str(target), f"cannot stat: {exc.strerror}") from exc
    written = Written(fd, Path(temp), target, exclusive=False, keep_on_failure=False)
    return written, FileStat(st.st_size, st.st_mtime_ns)


def conflict_name(annotation_file: Path, now: float | None = None) -> Path:
    """``b.json`` → ``b.conflict-20261127T101500Z.json`` beside it (UTC, to the second);
    a YOLO ``b.txt`` or VOC ``b.xml`` keeps its ending the same way."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    suffix = _suffix(annotation_file)
    stem = annotation_file.name.removesuffix(suffix)
    return annotation_file.with_name(f"{stem}{CONFLICT_MARK}{stamp}{suffix}")


def conflict_files(annotation_file: Path) -> list[Path]:
    """The conflict copies beside ``annotation_file``, oldest name first."""
    suffix = _suffix(annotation_file)
    stem = annotation_file.name.removesuffix(suffix)
    try:
        return sorted(annotation_file.parent.glob(f"{_glob_escape(stem)}{CONFLICT_MARK}*{suffix}"))
    except OSError:
        return []


def conflict_copy_of(annotation_file: Path, set_hash: str,
                     set_hash_of: Callable[[Path], str] | None = None) -> Path | None:
    """An existing conflict copy beside ``annotation_file`` holding the set ``set_hash``
    (each copy's set hash taken by ``set_hash_of``, Dataloop JSON when not given)."""
    read = set_hash_of or _json_set_hash
    for copy in conflict_files(annotation_file):
        try:
            if read(copy) == set_hash:
                return copy
        except AnnotationFileError:
            continue
    return None


def _json_set_hash(path: Path) -> str:
    return load_annotation_file(path).set_hash


def _suffix(annotation_file: Path) -> str:
    """The ending a conflict copy keeps: ``.txt`` and ``.xml`` as they are, else ``.json``."""
    return annotation_file.suffix if annotation_file.suffix in _LABEL_SUFFIXES else _JSON


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)
