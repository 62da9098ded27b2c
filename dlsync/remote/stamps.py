"""Stamps that make annotation posts exactly-once (docs/remote.md, "Annotations exactly once").

Every annotation dlsync posts carries ``metadata.user.dlsync = {"hash": H, "op": K}``: ``H`` is
the canonical hash of its content, ``K`` the key of the post operation. After an ambiguous post
(sent, no reply) the item's annotations are listed and only the stamped annotations whose
``(H, K)`` is not there yet (counted, so two identical annotations stay two) are posted again.
``H`` also lets later runs diff local against remote annotations without re-posting.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, cast

from dlsync.constants import FINGERPRINT_KEY
from dlsync.remote.types import AnnotationJson

CONTENT_KEYS = ("type", "label", "coordinates", "attributes", "description")
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _stamp_of(annotation: AnnotationJson | dict[str, Any]) -> dict[str, Any]:
    user = (annotation.get("metadata") or {}).get("user") or {}
    stamp = user.get(FINGERPRINT_KEY)
    return stamp if isinstance(stamp, dict) else {}


def canonical_hash(annotation: AnnotationJson) -> str:
    """SHA-256 of the annotation's content (type, label, geometry, attributes, system metadata).

    Ids, item/dataset references, creators, timestamps and user metadata do not count.
    """
    content: dict[str, Any] = {k: annotation.get(k) for k in CONTENT_KEYS if k in annotation}
    system = (annotation.get("metadata") or {}).get("system")
    if system:
        content["system"] = system
    text = _CANONICAL.encode(content)
    return hashlib.sha256(text.encode()).hexdigest()


def stamp(annotation: AnnotationJson, op: str) -> AnnotationJson:
    """A copy of ``annotation`` stamped with its hash (kept when already given) and ``op``."""
    out = cast(AnnotationJson, dict(annotation))    # only the metadata path is written:
    metadata = dict(out.get("metadata") or {})      # copy it, share the rest (read-only)
    user = dict(metadata.get("user") or {})
    out["metadata"] = metadata
    metadata["user"] = user
    mark = dict(user.get(FINGERPRINT_KEY) or {})
    if "hash" not in mark:
        mark["hash"] = canonical_hash(annotation)
    mark["op"] = op
    user[FINGERPRINT_KEY] = mark
    return out


def stamp_key(annotation: AnnotationJson | dict[str, Any]) -> tuple[str, str] | None:
    """The ``(hash, op)`` stamp of an annotation, or ``None`` when dlsync did not post it."""
    mark = _stamp_of(annotation)
    hash_, op = mark.get("hash"), mark.get("op")
    return (hash_, op) if isinstance(hash_, str) and isinstance(op, str) else None


def missing(wanted: Sequence[AnnotationJson],
            present: Iterable[AnnotationJson | dict[str, Any]]) -> list[AnnotationJson]:
    """The stamped annotations of ``wanted`` not yet in ``present``, counting duplicates."""
    have = Counter(key for key in map(stamp_key, present) if key is not None)
    out: list[AnnotationJson] = []
    for annotation in wanted:
        key = stamp_key(annotation)
        if key is not None and have[key] > 0:
            have[key] -= 1
        else:
            out.append(annotation)
    return out
