"""From a watcher event to the sync-root paths it stands for, and what the watcher watches."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

from dlsync.config import PairConfig
from dlsync.local.layout import LayoutKind


def watch_paths(pair: PairConfig) -> list[Path]:
    """The source root, and the annotation folder when it lies outside it."""
    paths = [pair.source]
    layout = pair.annotations
    if layout.kind is LayoutKind.DIRECTORY and layout.directory is not None and \
            not layout.directory.is_relative_to(pair.source):
        paths.append(layout.directory)
    return paths


def sync_paths(pair: PairConfig, path: Path) -> list[str]:
    """The sync-root paths a changed path stands for (an annotation file: its item too)."""
    layout = pair.annotations
    if layout.directory is not None and path == layout.directory:
        return []  # one COCO file for the whole source: the next reconcile reads it
    if layout.kind is LayoutKind.DIRECTORY and layout.directory is not None and \
            path.is_relative_to(layout.directory):
        stem = path.relative_to(layout.directory).as_posix().removesuffix(layout.suffix)
        return [nfc(stem), *_with_stem(pair.source, nfc(stem))]
    rel = _relative(pair.source, path)
    if not rel:
        return []
    if layout.kind is LayoutKind.SIDECAR and rel.endswith(".json"):
        return [rel, rel.removesuffix(".json")]
    return [rel]


def _relative(source: Path, path: Path) -> str:
    """``path`` relative to ``source`` in NFC; empty when it is ``source`` or outside it. The
    watcher's paths are ``source`` joined with what lies below it, so a string prefix decides
    (this runs once per event of a burst); anything else goes through ``Path.relative_to``."""
    text, root = os.fspath(path), os.fspath(source)
    if text.startswith(root) and text[len(root):len(root) + 1] == "/" and "//" not in text \
            and not text.endswith("/"):
        rel = text[len(root) + 1:]
        return rel if rel.isascii() else nfc(rel)
    try:
        rel = path.relative_to(source).as_posix()
    except ValueError:
        return ""
    return "" if rel == "." else nfc(rel)


def _with_stem(source: Path, stem: str) -> list[str]:
    """Files ``stem.*`` beside where ``stem`` would be (directory-layout annotations)."""
    parent, _, name = stem.rpartition("/")
    try:
        names = os.listdir(source / parent)
    except OSError:
        return []
    return [f"{parent}/{n}" if parent else n for n in names
            if os.path.splitext(n)[0] == name]


def nfc(path: str) -> str:
    return unicodedata.normalize("NFC", path)


def files_under(root: Path, folder: str) -> list[str]:
    """Every file under ``root/folder``, as paths relative to ``root``."""
    found: list[str] = []
    for top, _dirs, files in os.walk(root / folder):
        rel = os.path.relpath(top, root).replace(os.sep, "/")
        found.extend(nfc(f"{rel}/{name}") for name in files)
    return found
