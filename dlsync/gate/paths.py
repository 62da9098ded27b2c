"""Remote paths as items carry them: absolute, ``/``-separated, no ``..``, no control characters."""

from __future__ import annotations

import posixpath
from typing import Any

from dlsync.gate.refusal import bad_request

ROOT = "/"


def clean_path(raw: Any, what: str = "path", *, folder: bool = False) -> str:
    """``raw`` checked; Refusal (400) if unusable.

    A folder path may end in one ``/`` (dropped); a file path may not, as its name would be empty.
    """
    if not isinstance(raw, str) or not raw:
        raise bad_request(f"{what} must be a non-empty string, got {raw!r}")
    path: str = raw
    if not path.startswith("/"):
        raise bad_request(f"{what} {path!r} is not absolute: it must start with '/'")
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise bad_request(f"{what} {path!r} contains a control character")
    if len(path) > 1 and path.endswith("/"):
        if not folder:
            raise bad_request(f"{what} {path!r} ends with '/': the file name is empty")
        path = path[:-1]
    if path == ROOT:
        return path
    segments = path[1:].split("/")
    if any(s in ("", ".", "..") for s in segments):
        raise bad_request(f"{what} {path!r} has an empty, '.' or '..' segment")
    return path


def split_path(path: str) -> tuple[str, str]:
    """(parent folder, base name) of a clean path; the root's parent is ``""``."""
    if path == ROOT:
        return "", ""
    return posixpath.dirname(path), posixpath.basename(path)


def folder_chain(folder: str) -> list[str]:
    """Every folder from the top down to ``folder``, excluding the root: /a/b → [/a, /a/b]."""
    if folder == ROOT:
        return []
    parts = folder[1:].split("/")
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def join(folder: str, name: str) -> str:
    """The path of ``name`` inside ``folder``."""
    return f"/{name}" if folder == ROOT else f"{folder}/{name}"
