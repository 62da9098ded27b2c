"""Empty or missing roots: an unmounted share must never look like a folder the user emptied.

Before a cycle changes anything, each root that state tracks files in is looked at: the source
root (when state tracks files of the pair) and the annotation folder (when state tracks
annotation sets; for ``sidecar``, some ``*.json`` beside a file anywhere under the source). A
root that is missing, unreadable or holds no file at all stops the run with exit 4 and a message
that names the folder, whatever ``--delete`` and the limits say. ``allow_empty_root`` is the one
way past it. With nothing tracked, a missing source is a usage error (exit 2) as before.

The look stops at the first file found, so it costs one directory read on a healthy tree and a
full walk only when the answer is "empty".
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from dlsync.config import PairConfig
from dlsync.errors import EmptyRootError, UsageError
from dlsync.local.layout import LabelFormat, LayoutKind
from dlsync.state.queries import TrackedKinds

_Finder = Callable[[str], bool]
"""Answers whether a directory tree holds what is looked for."""
_Match = Callable[[os.DirEntry[str], set[str]], bool]
"""Accepts one entry of a directory, given the names of its siblings."""

_ADVICE = ("it may be unmounted. Nothing was changed. Mount it again; if you really emptied it, "
           "run again with --allow-empty-root (config allow_empty_root = true)")


def check_roots(pair: PairConfig, tracked: TrackedKinds) -> None:
    """Raise ``EmptyRootError`` (exit 4) when a root with tracked files looks unmounted, or
    ``UsageError`` when the source is missing and nothing is tracked."""
    source_state = _look(pair.source, _any_file)
    if source_state == "missing" and (not tracked.files or pair.allow_empty_root):
        raise UsageError(f"source folder {pair.source} does not exist or is not a folder")
    if pair.allow_empty_root:
        return
    if tracked.files and source_state is not None:
        raise EmptyRootError(f"source folder {pair.source} is {source_state} while state "
                             f"tracks files of pair {pair.name!r}; {_ADVICE}")
    if not tracked.annotation_files:
        return
    layout = pair.annotations
    if layout.format is LabelFormat.COCO and layout.directory is not None:
        state = None if layout.directory.is_file() else "missing"
        where = f"COCO file {layout.directory}"
    elif layout.kind is LayoutKind.DIRECTORY and layout.directory is not None:
        state = _look(layout.directory, _any_file)
        where = f"annotation folder {layout.directory}"
    elif layout.kind is LayoutKind.SIDECAR:
        state = _look(pair.source, _any_sidecar)
        state = "without any annotation file" if state == "empty" else state
        where = f"source folder {pair.source} (sidecar annotations)"
    else:
        return
    if state is not None:
        raise EmptyRootError(f"{where} is {state} while state tracks annotation files of "
                             f"pair {pair.name!r}; {_ADVICE}")


def _look(root: Path, found: _Finder) -> str | None:
    """None when ``root`` holds what ``found`` looks for; else why not."""
    if not root.is_dir():
        return "missing"
    try:
        return None if found(str(root)) else "empty"
    except OSError as exc:
        return f"unreadable ({exc.strerror})"


def _walk_until(top: str, wanted: _Match) -> bool:
    """Depth-first over ``top``, True at the first entry ``wanted`` accepts."""
    pending = [top]
    first = True
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(directory) as entries:
                listed = list(entries)
        except OSError:
            if first:
                raise  # the root itself cannot be read
            continue
        first = False
        names = {entry.name for entry in listed}
        for entry in listed:
            if entry.is_dir(follow_symlinks=False):
                pending.append(entry.path)
            elif wanted(entry, names):
                return True
    return False


def _any_file(top: str) -> bool:
    return _walk_until(top, lambda entry, names: not entry.is_dir())


def _any_sidecar(top: str) -> bool:
    return _walk_until(top, lambda entry, names: entry.name.endswith(".json")
                       and entry.name[:-5] in names)
