"""Annotation files' JSON, read the way their canonical hashes need it.

Every number must be finite, and an integral float is read as an int (``1.0`` and ``1`` hash
alike). The standard decoder does that with a callback per float (``decode_exactly``); orjson
reads a document in a fifth of the standard decoder's time, so ``decode_document`` takes
orjson's reading, made to match by one pass over it, whenever that is provably the standard
decoder's reading, and the exact one otherwise. A property test holds the two to the same
values of the same types, and to the same errors.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

from dlsync.errors import AnnotationFileError

_EXACT_INT = 2.0**53
"""Integral floats below this (in magnitude) are read as ints: every such int is a float too."""
_INT_WIDENED = 2.0**63
"""orjson reads an integer literal past 64 bits as a float at least this large."""


class _BadNumber(ValueError):
    """A number JSON can spell but dlsync cannot store (NaN, Infinity, 1e999)."""


def decode_document(data: bytes, name: str) -> Any:
    """The document in ``data``, integral floats as ints: through orjson when it provably
    reads what the standard decoder reads, through ``decode_exactly`` otherwise.

    orjson refuses what the standard decoder would refuse here too (NaN, Infinity, numbers
    that overflow to infinity, bad UTF-8, control characters), and some things the standard
    decoder takes (a byte-order mark, a lone surrogate, nesting past 1,024 levels): either
    way the exact decoder then answers, with its value or its precise error. orjson reads an
    integer beyond 64 bits as a float, so a float that large sends the file there as well."""
    try:
        root = orjson.loads(data)
    except orjson.JSONDecodeError:
        return decode_exactly(data, name)
    if type(root) is dict or type(root) is list:
        return root if _integral_floats_to_ints(root) else decode_exactly(data, name)
    return decode_exactly(data, name)   # a bare value: not a document, said exactly


def _integral_floats_to_ints(root: dict[str, Any] | list[Any]) -> bool:
    """Replace, in place, each integral float under 2**53 of the freshly decoded ``root`` by
    its int (as ``_finite_float`` does while the standard decoder reads). False, with
    ``root`` partly converted, when a float reaches 2**63: orjson may have widened an
    integer literal to it. Walked with a stack: this runs for every annotation file."""
    pending: list[Any] = [root]
    while pending:
        node = pending.pop()
        pairs = node.items() if type(node) is dict else enumerate(node)
        for key, value in pairs:
            kind = type(value)
            if kind is float:
                if not -_INT_WIDENED < value < _INT_WIDENED:
                    return False
                if value.is_integer() and -_EXACT_INT < value < _EXACT_INT:
                    node[key] = int(value)
            elif kind is dict or kind is list:
                pending.append(value)
    return True


def decode_exactly(data: bytes, name: str) -> Any:
    """The document in ``data`` as the standard decoder reads it, integral floats made ints by
    ``_finite_float``, NaN, infinities and overflowing numbers refused."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AnnotationFileError(name, f"not UTF-8 text (byte {exc.start})") from exc
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise AnnotationFileError(
            name, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except _BadNumber as exc:
        raise AnnotationFileError(name, f"number {exc} is not finite") from exc
    except RecursionError as exc:
        raise AnnotationFileError(name, "JSON nested too deeply") from exc


def _reject_constant(token: str) -> Any:
    raise _BadNumber(token)


def _finite_float(token: str) -> float | int:
    """A JSON number with a fraction or exponent; integral ones become ints (``1.0`` is 1)."""
    value = float(token)
    if not math.isfinite(value):
        raise _BadNumber(token)
    if value.is_integer() and abs(value) < _EXACT_INT:
        return int(value)
    return value
