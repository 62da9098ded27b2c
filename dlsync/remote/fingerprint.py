"""The item fingerprint dlsync keeps in ``metadata.user.dlsync`` (DESIGN.md decision 3).

Every upload records the content's SHA-256 and size and the annotation-set hash, so a listing
tells "same content" from "changed remotely" and a lost state database is rebuilt from one
listing. Built and read here only; push, pull and ``ls`` share it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from dlsync.constants import FINGERPRINT_KEY
from dlsync.model import Fingerprint


class ItemFingerprint(TypedDict, total=False):
    """``metadata.user.dlsync`` of an item dlsync uploaded or adopted."""

    sha256: str
    size: int
    annotations: str | None     # the annotation-set hash last synced, None when unknown


def fingerprint_metadata(sha256: str, size: int,
                         annotations_hash: str | None) -> ItemFingerprint:
    """The fingerprint of content ``sha256``/``size`` with annotation set ``annotations_hash``."""
    return {"sha256": sha256, "size": size, "annotations": annotations_hash}


def read_fingerprint(item: Mapping[str, Any]) -> ItemFingerprint:
    """The fingerprint in an item's JSON, or ``{}`` when it has none."""
    user = (item.get("metadata") or {}).get("user") or {}
    mark = user.get(FINGERPRINT_KEY) if isinstance(user, dict) else None
    return mark if isinstance(mark, dict) else {}  # type: ignore[return-value]


def content_of(mark: ItemFingerprint) -> Fingerprint | None:
    """The content the fingerprint names, when it names one."""
    sha, size = mark.get("sha256"), mark.get("size")
    return Fingerprint(sha, size) if isinstance(sha, str) and isinstance(size, int) else None


def set_hash_of(mark: ItemFingerprint) -> str | None:
    """The annotation-set hash the fingerprint names, when it names one."""
    annotations = mark.get("annotations")
    return annotations if isinstance(annotations, str) else None
