"""TOML values → typed values: one converter per kind of value, each error naming its key.

A converter takes the raw value and a ``Where`` (the file, the dotted key, the directory relative
paths start at) and returns the typed value or raises the ``ConfigError`` that ``Where`` makes.
"""

from __future__ import annotations

import difflib
import enum
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dlsync import units
from dlsync.errors import ConfigError
from dlsync.local.layout import AnnotationLayout, LayoutKind


@dataclass(frozen=True, slots=True)
class Where:
    """The file (or "command line"), the dotted key, and the directory relative paths start at."""

    source: str
    key: str
    base: Path

    def child(self, key: str) -> Where:
        return replace(self, key=f"{self.key}.{key}" if self.key else key)

    def error(self, message: str) -> ConfigError:
        return ConfigError(message, key=self.key or None, source=self.source)


Convert = Callable[[object, Where], Any]


def suggest(word: str, choices: Mapping[str, object] | tuple[str, ...]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices``, or ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _type_name(value: object) -> str:
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array",
             dict: "table"}
    return names.get(type(value), type(value).__name__)


def _expect(value: object, kinds: tuple[type, ...], name: str, where: Where) -> None:
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        raise where.error(f"expected {name}, got {_type_name(value)}")


def table(value: object, where: Where) -> Mapping[str, object]:
    _expect(value, (dict,), "table", where)
    assert isinstance(value, dict)
    return value


def boolean(value: object, where: Where) -> bool:
    _expect(value, (bool,), "boolean", where)
    return bool(value)


def string(value: object, where: Where) -> str:
    _expect(value, (str,), "string", where)
    if not str(value).strip():
        raise where.error("expected a non-empty string")
    return str(value)


def integer(minimum: int) -> Convert:
    def convert(value: object, where: Where) -> int:
        _expect(value, (int,), "integer", where)
        assert isinstance(value, int)
        if value < minimum:
            raise where.error(f"expected an integer of at least {minimum}, got {value}")
        return value
    return convert


def number(minimum: float, *, inclusive: bool = True) -> Convert:
    def convert(value: object, where: Where) -> float:
        _expect(value, (int, float), "number", where)
        try:
            result = float(value)  # type: ignore[arg-type]
        except OverflowError:
            raise where.error("number is too large") from None
        if not math.isfinite(result) or result < minimum or (not inclusive and result == minimum):
            bound = "at least" if inclusive else "more than"
            raise where.error(f"expected a finite number {bound} {minimum}, got {value}")
        return result
    return convert


def choice(kind: type[enum.StrEnum]) -> Convert:
    def convert(value: object, where: Where) -> enum.StrEnum:
        text = string(value, where)
        try:
            return kind(text)
        except ValueError:
            allowed = tuple(member.value for member in kind)
            raise where.error(f"expected one of {', '.join(allowed)}, got {text!r}"
                              f"{suggest(text, allowed)}") from None
    return convert


def path(value: object, where: Where) -> Path:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    text = string(value, where)
    expanded = os.path.expanduser(os.path.expandvars(text))
    return Path(os.path.normpath(where.base / expanded))


def strings(value: object, where: Where) -> tuple[str, ...]:
    _expect(value, (list, tuple), "array of strings", where)
    assert isinstance(value, list | tuple)
    return tuple(string(item, where.child(str(i))) for i, item in enumerate(value))


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def emails(value: object, where: Where) -> tuple[str, ...]:
    """An array of e-mail addresses (a task's assignees)."""
    found = strings(value, where)
    for i, text in enumerate(found):
        if not _EMAIL.match(text):
            raise where.child(str(i)).error(f"expected an e-mail address, got {text!r}")
    return found


def statuses(value: object, where: Where) -> tuple[str, ...]:
    """Task statuses: an array of names, or one comma-separated string (``--status a,b``)."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    found = strings(value, where)
    if not found:
        raise where.error("expected at least one task status, such as \"completed\"")
    return found


def url(value: object, where: Where) -> str:
    text = string(value, where)
    if not re.match(r"^https?://[^/\s]+", text):
        raise where.error(f"expected an http:// or https:// URL, got {text!r}")
    return text.rstrip("/")


def remote_dir(value: object, where: Where) -> str:
    text = string(value, where)
    parts = [part for part in text.split("/") if part]
    if not text.startswith("/") or any(part in (".", "..") for part in parts):
        raise where.error(f"expected an absolute remote folder such as \"/\" or \"/cams\", "
                          f"got {text!r}")
    return "/" + "/".join(parts)


def annotation_layout(value: object, where: Where) -> AnnotationLayout:
    text = value if isinstance(value, str) else None
    if text == LayoutKind.SIDECAR.value:
        return AnnotationLayout.sidecar()
    if text == LayoutKind.NONE.value:
        return AnnotationLayout.none()
    return AnnotationLayout.in_directory(path(value, where))


def address(value: object, where: Where) -> str:
    text = string(value, where)
    host, _, port = text.rpartition(":")
    if not host or not port.isascii() or not port.isdigit() or int(port) > 65535:
        raise where.error(f"expected HOST:PORT, got {text!r}")
    return text


def bandwidth(value: object, where: Where) -> float | None:
    """An rclone ``--bwlimit`` rate such as ``"10M"`` (10 MiB/s) in bytes per second; ``None``
    for ``"off"``. A string, so the unit is always written."""
    text = string(value, where)
    try:
        return units.parse_rate(text)
    except ValueError as exc:
        raise where.error(str(exc)) from None


def byte_size(value: object, where: Where) -> int:
    """A size: an integer of bytes, or an rclone-style string such as ``"64M"``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return integer(0)(value, where)  # type: ignore[no-any-return]
    text = string(value, where)
    try:
        return units.parse_size(text)
    except ValueError as exc:
        raise where.error(str(exc)) from None
