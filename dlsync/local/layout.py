"""Where an item's annotation file lives (nowhere, beside it, in a parallel directory tree), and
the format it is written in (Dataloop JSON, YOLO, Pascal VOC, COCO; docs/formats.md)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path


class LabelFormat(enum.StrEnum):
    """The format of a sync root's annotation files."""

    DATALOOP = "dataloop"    # dtlpy's JSON, one file per item
    YOLO = "yolo"            # DIR/a/b.txt for a/b.jpg, class names from a classes file
    COCO = "coco"            # one JSON file for the whole source
    VOC = "voc"              # DIR/a/b.xml for a/b.jpg


SUFFIXES = {LabelFormat.DATALOOP: ".json", LabelFormat.YOLO: ".txt", LabelFormat.VOC: ".xml",
            LabelFormat.COCO: ".json"}
"""The name ending of each format's label files."""


class LayoutKind(enum.StrEnum):
    """The three ways a sync root can pair items with annotation files."""

    NONE = "none"            # no annotation files; every file is an item
    SIDECAR = "sidecar"      # a/b.jpg.json beside a/b.jpg
    DIRECTORY = "directory"  # DIR/a/b.json or DIR/a/b.jpg.json for a/b.jpg


@dataclass(frozen=True, slots=True)
class AnnotationLayout:
    """How the scan finds the annotation file of each item.

    ``directory`` is the absolute annotation tree for ``LayoutKind.DIRECTORY``, ``None`` otherwise
    (for COCO, the one JSON file of the source). ``format`` is what the files are written in.
    """

    kind: LayoutKind = LayoutKind.NONE
    directory: Path | None = None
    format: LabelFormat = LabelFormat.DATALOOP

    @property
    def suffix(self) -> str:
        """How the label file of an item ends (``.json``, ``.txt``, ``.xml``)."""
        return SUFFIXES[self.format]

    @property
    def is_dataloop(self) -> bool:
        return self.format is LabelFormat.DATALOOP

    @classmethod
    def none(cls) -> AnnotationLayout:
        return cls(LayoutKind.NONE)

    @classmethod
    def sidecar(cls) -> AnnotationLayout:
        return cls(LayoutKind.SIDECAR)

    @classmethod
    def in_directory(cls, directory: Path) -> AnnotationLayout:
        return cls(LayoutKind.DIRECTORY, directory.absolute())
