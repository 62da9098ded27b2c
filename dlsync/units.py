"""Quantities as people read and write them: byte sizes and byte rates in binary units.

Sizes and rates are parsed as rclone parses its ``SizeSuffix`` flags (``--bwlimit``,
``--max-size``), so an operator's rclone habits carry over:

- a number with a suffix ``B``, ``K``, ``M``, ``G``, ``T`` or ``P`` (case-insensitive; binary
  multiples, so ``10M`` is 10 MiB); ``Ki``/``KiB`` style spellings are accepted too;
- a bare number is KiB, as in rclone (``512`` is 512 KiB);
- a rate is the same size per second; ``off`` (or zero) means no limit.

Decimal spellings such as ``10MB`` are refused rather than guessed at.
"""

from __future__ import annotations

import math
import re

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
_MULTIPLIERS = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(b|[kmgtp](?:i|ib)?)?\s*$", re.IGNORECASE)
_DEFAULT_MULTIPLIER = _MULTIPLIERS["k"]   # rclone: a bare number is KiB
UNLIMITED = ("off", "")


def format_size(size: int) -> str:
    """Bytes in binary units with one decimal: ``512 B``, ``12.3 KiB``."""
    value = float(size)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def parse_size(text: str) -> int:
    """Bytes from an rclone-style size: ``64M`` is 64 MiB, ``512`` is 512 KiB, ``100B`` bytes.

    Raises ``ValueError`` with a sentence saying what is accepted.
    """
    return round(_bytes(text))


def parse_rate(text: str) -> float | None:
    """Bytes per second from an rclone ``--bwlimit`` value, ``None`` for ``off`` (no limit).

    ``10M`` is 10 MiB/s, ``512`` (bare) is 512 KiB/s, ``0`` and ``off`` mean no limit.
    Timetables and separate upload:download limits are not supported.
    """
    if text.strip().lower() in UNLIMITED:
        return None
    if ":" in text or "," in text:
        raise ValueError(f"{text!r}: bandwidth timetables and upload:download pairs are not "
                         "supported; give one rate such as 10M")
    rate = _bytes(text)
    if rate == 0:
        return None
    if rate < 1:
        raise ValueError(f"{text!r} is less than one byte per second; use 0 or off for no limit")
    return rate


def _bytes(text: str) -> float:
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a size: write a number with a binary suffix "
                         "B, K, M, G, T or P (10M is 10 MiB; a bare number is KiB)")
    number, suffix = float(match.group(1)), match.group(2)
    size = number * (_MULTIPLIERS[suffix[0].lower()] if suffix else _DEFAULT_MULTIPLIER)
    if not math.isfinite(size) or size >= 1 << 63:
        raise ValueError(f"{text!r} is too large a size")
    return size
