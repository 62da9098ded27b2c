"""Dataloop annotation dicts in and out, and the quantisation every projection uses.

The codecs meet the rest of dlsync in Dataloop's annotation JSON (``dataloop-api.md`` §5):

    box       coordinates [{x, y, z}, {x, y, z}]: top-left, bottom-right, pixels; an optional
              third element is a rotation angle (no label format here can express one)
    segment   coordinates [[{x, y, z}, ...]]: one ring of a polygon, pixels
    binary    coordinates "data:image/png;base64,...": a full-image RGBA PNG, alpha > 127 is in

Attributes live in ``metadata.system.attributes`` (a dict, Dataloop's attributes v2); the older
top-level ``attributes`` list of names (v1) is read too. Pixel coordinates are in the displayed
frame of the image (see ``images``).

The readers here never raise: an annotation of another shape is ``None``, which a projection
reports as "this format cannot express it".
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

Box = tuple[float, float, float, float]          # left, top, right, bottom
Ring = tuple[tuple[float, float], ...]

GEOMETRY_TOLERANCE_PX = 0.5   # the most a written coordinate may differ from the platform's


def box_of(annotation: Mapping[str, Any]) -> Box | None:
    """The axis-aligned box of a ``box`` annotation; ``None``: rotated, malformed, not a box."""
    coordinates = annotation.get("coordinates")
    if annotation.get("type") != "box" or not isinstance(coordinates, list | tuple):
        return None
    if len(coordinates) not in (2, 3) or (len(coordinates) == 3 and coordinates[2] != 0):
        return None
    points = [_point(p) for p in coordinates[:2]]
    if points[0] is None or points[1] is None:
        return None
    (x1, y1), (x2, y2) = points[0], points[1]
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def ring_of(annotation: Mapping[str, Any]) -> Ring | None:
    """The one ring of a ``segment`` annotation with three or more points, else ``None``."""
    coordinates = annotation.get("coordinates")
    if annotation.get("type") != "segment" or not isinstance(coordinates, list | tuple):
        return None
    if len(coordinates) != 1 or not isinstance(coordinates[0], list | tuple):
        return None
    points = [_point(p) for p in coordinates[0]]
    if len(points) < 3 or any(p is None for p in points):
        return None
    return tuple(p for p in points if p is not None)


def label_of(annotation: Mapping[str, Any]) -> str | None:
    label = annotation.get("label")
    return label if isinstance(label, str) else None


def attributes_of(annotation: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes v2 (``metadata.system.attributes``), with v1 names added as ``True``."""
    metadata = annotation.get("metadata")
    system = metadata.get("system") if isinstance(metadata, Mapping) else None
    found = system.get("attributes") if isinstance(system, Mapping) else None
    result = dict(found) if isinstance(found, Mapping) else {}
    legacy = annotation.get("attributes")
    if isinstance(legacy, list):
        result.update({name: True for name in legacy if isinstance(name, str)})
    return result


def box_annotation(label: str, box: Box, attributes: Mapping[str, Any] | None = None
                   ) -> dict[str, Any]:
    """A Dataloop ``box`` annotation dict."""
    left, top, right, bottom = box
    coordinates = [{"x": left, "y": top, "z": 0}, {"x": right, "y": bottom, "z": 0}]
    return _annotation("box", label, coordinates, attributes)


def polygon_annotation(label: str, ring: Sequence[tuple[float, float]],
                       attributes: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A Dataloop ``segment`` (polygon) annotation dict with one ring."""
    coordinates = [[{"x": x, "y": y, "z": 0} for x, y in ring]]
    return _annotation("segment", label, coordinates, attributes)


def binary_annotation(label: str, data_url: str,
                      attributes: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A Dataloop ``binary`` (mask) annotation dict."""
    return _annotation("binary", label, data_url, attributes)


def quantise(value: float, decimals: int) -> float | int:
    """``value`` rounded to ``decimals`` places; integral results are ints, -0.0 is 0."""
    rounded = round(value, decimals) + 0.0
    return int(rounded) if rounded.is_integer() else rounded


def clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def projection_hash(projection: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a projection (sorted keys, no whitespace)."""
    text = json.dumps(projection, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _annotation(kind: str, label: str, coordinates: Any,
                attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    result: dict[str, Any] = {"type": kind, "label": label, "coordinates": coordinates}
    if attributes:
        result["metadata"] = {"system": {"attributes": dict(attributes)}}
    return result


def _point(value: Any) -> tuple[float, float] | None:
    if not isinstance(value, Mapping):
        return None
    x, y = value.get("x"), value.get("y")
    if isinstance(x, int | float) and isinstance(y, int | float) and _finite(x) and _finite(y):
        return float(x), float(y)
    return None


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
