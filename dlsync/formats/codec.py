"""The shape every label-format codec has, and what a write reports.

A codec turns one format's files into Dataloop annotation dicts and back, and defines its
*projection*: the part of a Dataloop annotation the format can express, at the precision it
writes. ``project`` returns ``None`` for an annotation the format cannot express at all; such an
annotation is never written to the file, and the caller keeps it on the platform untouched.
Hashes compared between a file and the platform are taken over projections only, so whatever a
format cannot say is never seen as deleted or changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from dlsync.formats.geometry import projection_hash
from dlsync.formats.images import ImageSize

Annotation = dict[str, Any]


@dataclass(frozen=True, slots=True)
class WriteResult:
    """The file written, how many annotations went into it, and the indexes left out."""

    path: Path
    written: int
    skipped: tuple[int, ...] = ()


class Projector(Protocol):
    """What a format can express of a Dataloop annotation."""

    name: str

    def project(self, annotation: Mapping[str, Any], size: ImageSize) -> Annotation | None:
        """The projection of ``annotation`` on an image of ``size``; ``None`` if inexpressible."""
        ...


class Codec(Projector, Protocol):
    """A format with one label file per item (YOLO ``.txt``, Pascal VOC ``.xml``)."""

    def label_path(self, rel_path: str) -> Path:
        """Where the label file of the item ``rel_path`` (POSIX, under the source root) lives."""
        ...

    def read(self, source_root: Path, rel_path: str) -> list[Annotation]:
        """The Dataloop annotation dicts in the label file of ``rel_path``."""
        ...

    def write(self, source_root: Path, rel_path: str,
              annotations: Sequence[Mapping[str, Any]]) -> WriteResult:
        """Replace the label file of ``rel_path`` with the expressible ``annotations``."""
        ...


def projections(projector: Projector, annotations: Iterable[Mapping[str, Any]],
                size: ImageSize) -> list[Annotation]:
    """The projections of the expressible ``annotations``, in order."""
    found = (projector.project(a, size) for a in annotations)
    return [p for p in found if p is not None]


def projection_hashes(projector: Projector, annotations: Iterable[Mapping[str, Any]],
                      size: ImageSize) -> list[str]:
    """The sorted projection hashes of the expressible ``annotations`` (a multiset)."""
    return sorted(projection_hash(p) for p in projections(projector, annotations, size))
