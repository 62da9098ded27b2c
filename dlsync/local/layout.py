"""Where an item's annotation JSON lives: nowhere, beside it, or in a parallel directory tree."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path


class LayoutKind(enum.StrEnum):
    """The three ways a sync root can pair items with annotation files."""

    NONE = "none"            # no annotation files; every file is an item
    SIDECAR = "sidecar"      # a/b.jpg.json beside a/b.jpg
    DIRECTORY = "directory"  # DIR/a/b.json or DIR/a/b.jpg.json for a/b.jpg


@dataclass(frozen=True, slots=True)
class AnnotationLayout:
    """How the scan finds the annotation file of each item.

    ``directory`` is the absolute annotation tree for ``LayoutKind.DIRECTORY``, ``None`` otherwise.
    """

    kind: LayoutKind = LayoutKind.NONE
    directory: Path | None = None

    @classmethod
    def none(cls) -> AnnotationLayout:
        return cls(LayoutKind.NONE)

    @classmethod
    def sidecar(cls) -> AnnotationLayout:
        return cls(LayoutKind.SIDECAR)

    @classmethod
    def in_directory(cls, directory: Path) -> AnnotationLayout:
        return cls(LayoutKind.DIRECTORY, directory.absolute())
