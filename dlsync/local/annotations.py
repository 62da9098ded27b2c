"""Annotation JSON files in the format dtlpy writes and reads, and their canonical hashes.

A file is ``{"annotations": [...], "metadata": {...}}`` (a bare list of annotations is accepted
too). Each annotation is reduced to its canonical form, the fields a person controls:

    kept:     type, label, coordinates, attributes, metadata, description
    dropped:  every other key, including the server-owned ones (id, _id, creator, createdAt,
              updatedAt, updatedBy, itemId, datasetId, url, item, dataset, hash, annotationId,
              source), keys whose value is null, the server-set keys of ``metadata.system``
              (``SERVER_SYSTEM_FIELDS``), and dlsync's stamp ``metadata.user.<ANNOTATION_HASH_KEY>``

The canonical JSON has sorted keys, no whitespace, ASCII escapes, and integral floats written
as integers (``1.0`` and ``1`` are equal); its SHA-256 is the annotation's hash. The remote side
stores that hash as ``metadata.user.<ANNOTATION_HASH_KEY>.hash`` so a listing can be matched
back. The set hash covers the sorted annotation hashes and the item's ``metadata.user``, so
reordering a file changes nothing.

Every problem raises ``AnnotationFileError`` naming the file (and, for JSON syntax, the line and
column); nothing else escapes ``load_annotation_file`` or ``parse_annotations``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from dlsync import constants
from dlsync.bounded import READ_FLAGS, read_up_to
from dlsync.errors import AnnotationFileError
from dlsync.local.document import decode_document

KNOWN_TYPES = frozenset({
    "box", "cube", "cube_3d", "class", "comparison", "ellipse", "point", "segment", "polyline",
    "pose", "binary", "subtitle", "text_mark", "gis", "ref_semantic_3d", "polyline_3d", "text",
    "ref_image", "note",
})
NUMERIC_GEOMETRY = frozenset({
    "box", "cube", "cube_3d", "ellipse", "point", "segment", "polyline", "polyline_3d",
})
KEPT_FIELDS = ("type", "label", "coordinates", "attributes", "metadata", "description")
SERVER_SYSTEM_FIELDS = frozenset({
    "clientId", "createdAt", "updatedAt", "openAnnotationVersion", "recipeId", "isOpen",
    "itemLinks",
})
HASH_KEY = constants.ANNOTATION_HASH_KEY
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
"""The canonical JSON text: what ``json.dumps(value, sort_keys=True, separators=(",", ":"))``
writes, from one encoder made once (``dumps`` with options builds a new one per call)."""
_DIGIT_TO_ZERO = bytes.maketrans(b"123456789E", b"000000000e")
"""Every digit as ``0`` and ``E`` as ``e``: a digit followed by an exponent mark becomes ``0e``."""


def _plain(text: bytes) -> bool:
    """Whether orjson's ``text`` holds nothing that ``_CANONICAL`` may write differently: an
    exponent or a number under 1e-4 (the two write those floats differently), DEL (escaped only
    by ``_CANONICAL``), or ``null`` (orjson's spelling of NaN and infinities). A string that
    merely contains one of these only sends that annotation down the slower path.

    Substring searches rather than one regular expression with four alternatives: this runs
    for every annotation of every file, and on a box's 170 bytes the searches take half the
    time of the expression. ``find``, not ``in``: on Python 3.11 ``bytes in bytes`` first
    tries the needle as an integer and formats, then drops, a ``TypeError`` every time."""
    return (text.translate(_DIGIT_TO_ZERO).find(b"0e") < 0 and text.find(b"0.0000") < 0
            and text.find(b"\x7f") < 0 and text.find(b"null") < 0)


@dataclass(frozen=True, slots=True)
class CanonicalAnnotation:
    """One annotation in canonical form, its canonical JSON text and that text's SHA-256."""

    body: Mapping[str, Any] = field(compare=False, hash=False)
    canonical: str
    hash: str

    def to_wire(self) -> dict[str, Any]:
        """The annotation as dlsync posts it: the canonical body plus its hash in user metadata.

        Only the metadata path is copied; the rest is shared with ``body`` (read-only)."""
        body = dict(self.body)
        metadata = dict(body.get("metadata") or {})
        user = dict(metadata.get("user") or {})
        user[HASH_KEY] = {"hash": self.hash}
        metadata["user"] = user
        body["metadata"] = metadata
        return body


@dataclass(frozen=True, slots=True)
class AnnotationSet:
    """The parsed content of one annotation file."""

    annotations: tuple[CanonicalAnnotation, ...]
    user_metadata: Mapping[str, Any] = field(compare=False, hash=False)
    set_hash: str

    @property
    def hashes(self) -> frozenset[str]:
        return frozenset(a.hash for a in self.annotations)


def load_annotation_file(path: str | os.PathLike[str]) -> AnnotationSet:
    """Read, check and canonicalise the annotation file at ``path``."""
    name = os.fspath(path)
    data = _read_bounded(name)
    return parse_annotations(data, name)


def parse_annotations(data: bytes, name: str) -> AnnotationSet:
    """Parse annotation-file bytes; ``name`` is only used in error messages."""
    if not data.strip():
        raise AnnotationFileError(name, "empty file; expected {\"annotations\": [...]}")
    root = decode_document(data, name)
    if data.count(b"[") + data.count(b"{") > constants.ANNOTATION_MAX_DEPTH:
        _check_depth(root, name)  # fewer brackets than the limit cannot nest past it
    items, metadata = _split_root(root, name)
    # the decoder already wrote integral floats as ints
    annotations = tuple(_canonical(raw, i, name, normalised=True) for i, raw in enumerate(items))
    user = metadata.get("user") if isinstance(metadata, dict) else None
    user_metadata = user if isinstance(user, dict) else {}
    return AnnotationSet(annotations, user_metadata, _set_hash(annotations, user_metadata))


def annotation_set(raw: Iterable[Mapping[str, Any]], user_metadata: Mapping[str, Any],
                   name: str) -> AnnotationSet:
    """The set a file holding ``raw`` annotations and ``user_metadata`` would parse to, without
    writing the file: the same canonical forms and set hash as ``parse_annotations`` of
    ``dump_annotation_file(raw, {"user": user_metadata})``."""
    annotations = tuple(_canonical(one, i, name) for i, one in enumerate(raw))
    user = dict(user_metadata)
    return AnnotationSet(annotations, user, _set_hash(annotations, user))


def canonical_annotation(raw: Mapping[str, Any], name: str = "<annotation>"
                         ) -> CanonicalAnnotation:
    """The canonical form of one annotation object (for example one the remote listed)."""
    return _canonical(raw, 0, name)


def dump_annotation_file(annotations: Iterable[Mapping[str, Any]],
                         metadata: Mapping[str, Any] | None = None) -> bytes:
    """Serialise annotations in the dtlpy file format, readable back by ``load_annotation_file``."""
    document = {"annotations": [dict(a) for a in annotations], "metadata": dict(metadata or {})}
    text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False)
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:  # a lone surrogate: only the escaped ASCII form is valid UTF-8
        return json.dumps(document, indent=2, allow_nan=False).encode("ascii") + b"\n"


def _read_bounded(name: str) -> bytes:
    try:
        fd = os.open(name, READ_FLAGS)
    except OSError as exc:
        raise AnnotationFileError(name, f"cannot read: {exc.strerror}") from exc
    try:
        st = os.fstat(fd)
        if st.st_size > constants.ANNOTATION_MAX_BYTES:
            raise AnnotationFileError(name, f"{st.st_size} bytes is over the limit of "
                                      f"{constants.ANNOTATION_MAX_BYTES}; not read")
        data = read_up_to(fd, constants.ANNOTATION_MAX_BYTES, st)
    except OSError as exc:
        raise AnnotationFileError(name, f"cannot read: {exc.strerror}") from exc
    finally:
        os.close(fd)
    if len(data) > constants.ANNOTATION_MAX_BYTES:
        raise AnnotationFileError(name, "grew over the size limit while read; not used")
    return data


def _check_depth(root: Any, name: str) -> None:
    """Refuse documents nested deeper than ``ANNOTATION_MAX_DEPTH`` (checked without recursion)."""
    pending: list[tuple[Any, int]] = [(root, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > constants.ANNOTATION_MAX_DEPTH:
            raise AnnotationFileError(
                name, f"JSON nested deeper than {constants.ANNOTATION_MAX_DEPTH} levels")
        children = value.values() if isinstance(value, dict) else value
        if isinstance(value, dict | list):
            pending.extend((child, depth + 1) for child in children)


def _split_root(root: Any, name: str) -> tuple[list[Any], Any]:
    if isinstance(root, list):
        return root, {}
    if not isinstance(root, dict):
        raise AnnotationFileError(name, f"root is a {_kind(root)}; expected an object or a list")
    items = root.get("annotations", [])
    if not isinstance(items, list):
        raise AnnotationFileError(name, f"'annotations' is a {_kind(items)}; expected a list")
    metadata = root.get("metadata", {})
    if metadata is not None and not isinstance(metadata, dict):
        raise AnnotationFileError(name, f"'metadata' is a {_kind(metadata)}; expected an object")
    return items, metadata or {}


def _is_mapping(value: Any) -> bool:
    """``isinstance(value, Mapping)``, without the ABC check for the usual plain dict (this
    runs several times for every annotation of every file)."""
    return type(value) is dict or isinstance(value, Mapping)


def _canonical(raw: Any, index: int, name: str, *,
               normalised: bool = False) -> CanonicalAnnotation:
    if not _is_mapping(raw):
        raise AnnotationFileError(name, f"annotation #{index} is a {_kind(raw)}; "
                                  "expected an object")
    _check_required(raw, index, name)
    body: dict[str, Any] = {}
    for key in KEPT_FIELDS:
        value = raw.get(key)
        if key == "metadata" and value is not None and _is_mapping(value):
            value = _canonical_metadata(value)
        if value is not None:
            body[key] = value if normalised else _normalise(value)
    canonical = _canonical_text(body)
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return CanonicalAnnotation(body, canonical, digest)


def _canonical_text(value: Any) -> str:
    """``_CANONICAL.encode(value)``, through orjson when its output is provably the same text:
    plain ASCII with no number or character the two encoders spell differently. Anything else
    (non-ASCII text, a huge integer, a non-string key, deep nesting) takes ``_CANONICAL``."""
    try:
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return _CANONICAL.encode(value)
    if text.isascii() and _plain(text):
        return text.decode("ascii")
    return _CANONICAL.encode(value)


def _check_required(raw: Mapping[str, Any], index: int, name: str) -> None:
    kind, label = raw.get("type"), raw.get("label")
    if not isinstance(kind, str):
        raise AnnotationFileError(name, f"annotation #{index} has no 'type' string")
    if kind not in KNOWN_TYPES:
        raise AnnotationFileError(name, f"annotation #{index} has unknown type {kind!r}")
    if not isinstance(label, str):
        raise AnnotationFileError(name, f"annotation #{index} has no 'label' string")
    metadata = raw.get("metadata")
    if metadata is not None and not _is_mapping(metadata):
        raise AnnotationFileError(name, f"annotation #{index}: 'metadata' is a {_kind(metadata)}")
    user = metadata.get("user") if metadata is not None else None
    if user is not None and not _is_mapping(user):
        raise AnnotationFileError(name,
                                  f"annotation #{index}: 'metadata.user' is a {_kind(user)}")
    if kind in NUMERIC_GEOMETRY and not _all_numbers(raw.get("coordinates")):
        raise AnnotationFileError(name, f"annotation #{index} ({kind}): coordinates must be "
                                  "finite numbers")


def _all_numbers(value: Any) -> bool:
    """True when every leaf of ``value`` is a finite int or float (and there is at least one):
    every dict and list on the way is non-empty. Walked with a stack, not recursion (a box's
    coordinates are a dozen leaves, and this runs for every annotation of every file)."""
    pending = [value]
    while pending:
        node = pending.pop()
        kind = type(node)
        if kind is float:
            if not math.isfinite(node):
                return False
        elif kind is int:
            continue
        elif isinstance(node, dict):
            if not node:
                return False
            pending.extend(node.values())
        elif isinstance(node, list):
            if not node:
                return False
            pending.extend(node)
        elif not (isinstance(node, int | float) and not isinstance(node, bool)
                  and math.isfinite(node)):
            return False
    return True


def _canonical_metadata(metadata: Mapping[str, Any]) -> dict[str, Any] | None:
    """``metadata`` without the server-set system keys and dlsync's hash; empty parts dropped.

    One pass over the keys, copying a part only when it has something to drop (this runs for
    every annotation of every file, and most carry an empty or small ``system``)."""
    result: dict[str, Any] = {}
    for key, value in metadata.items():
        if key == "system":
            if value and _is_mapping(value):
                kept = {k: v for k, v in value.items() if k not in SERVER_SYSTEM_FIELDS}
                if kept:
                    result["system"] = kept
        elif key == "user":
            if _is_mapping(value):
                if value:
                    kept = {k: v for k, v in value.items() if k != HASH_KEY}
                    if kept:
                        result["user"] = kept
            elif value is not None:
                result["user"] = value
        else:
            result[key] = value
    return result or None


def _normalise(value: Any) -> Any:
    """Integral floats become ints so that ``1.0`` and ``1`` hash alike."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def _set_hash(annotations: Iterable[CanonicalAnnotation], user: Mapping[str, Any]) -> str:
    digest = hashlib.sha256()
    for annotation_hash in sorted(a.hash for a in annotations):
        digest.update(annotation_hash.encode() + b"\n")
    digest.update(_canonical_text(_normalise(dict(user))).encode("ascii"))
    return digest.hexdigest()


def set_hash_of(annotations: Iterable[CanonicalAnnotation], user: Mapping[str, Any]) -> str:
    """The set hash of ``annotations`` with the item's user metadata ``user``."""
    return _set_hash(annotations, user)


def _kind(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", int: "number",
            float: "number"}.get(type(value), "null")
