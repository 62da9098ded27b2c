"""Labels of annotations and of ontologies, as pure functions: which are used, which are missing.

An annotation names its label by path (``animal.dog`` is the child ``dog`` of ``animal``); an
ontology holds them as a tree (``roots``: ``{"value": {"tag"}, "children": [...]}``). A label
dlsync adds gets a colour derived from its path, so every run (and every host) picks the same.
"""

from __future__ import annotations

import colorsys
import hashlib
from collections.abc import Iterable
from typing import Any

from dlsync.local.annotations import CanonicalAnnotation


def labels_used(annotations: Iterable[CanonicalAnnotation]) -> set[str]:
    """The label paths ``annotations`` name (annotations without a label name none)."""
    found = set()
    for annotation in annotations:
        label = annotation.body.get("label")
        if isinstance(label, str) and label:
            found.add(label)
    return found


def tree_paths(roots: Iterable[Any], parent: str = "") -> set[str]:
    """Every label path of an ontology's ``roots``."""
    paths: set[str] = set()
    for root in roots:
        value = root.get("value") if isinstance(root, dict) else None
        tag = value.get("tag") if isinstance(value, dict) else None
        if not isinstance(tag, str):
            continue
        path = f"{parent}.{tag}" if parent else tag
        paths.add(path)
        paths |= tree_paths(root.get("children") or [], path)
    return paths


def with_parents(path: str) -> list[str]:
    """``a.b.c`` → ``["a", "a.b", "a.b.c"]``."""
    parts = path.split(".")
    return [".".join(parts[:depth]) for depth in range(1, len(parts) + 1)]


def missing(wanted: Iterable[str], known: set[str]) -> list[str]:
    """Paths to add so every ``wanted`` label exists: the missing ones and their missing
    parents, parents first."""
    needed = {p for path in wanted for p in with_parents(path) if p not in known}
    return sorted(needed, key=lambda p: (p.count("."), p))


def colour(path: str) -> str:
    """A stable, saturated ``#rrggbb`` for a label path."""
    hue = int(hashlib.sha256(path.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    red, green, blue = colorsys.hsv_to_rgb(hue, 0.7, 0.9)
    return "#" + "".join(f"{round(c * 255):02x}" for c in (red, green, blue))


def label_node(path: str) -> dict[str, Any]:
    """The ``labelsNode`` entry that adds ``path``."""
    return {"tag": path, "displayLabel": path.rsplit(".", 1)[-1], "color": colour(path)}
