"""The event loop a dlsync command runs on: uvloop where it is installed, asyncio's otherwise.

uvloop (libuv under asyncio's interface) costs less CPU per request than asyncio's own loop,
and a first mirror's client is bound by CPU: docs/benchmarks.md measures the difference.
``DLSYNC_EVENT_LOOP`` chooses: ``auto`` (the default: uvloop when it can be imported),
``uvloop`` (it must be there) or ``asyncio`` (asyncio's own loop, always available).
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, TypeVarTuple

import anyio

from dlsync.errors import ConfigError

ENV = "DLSYNC_EVENT_LOOP"
CHOICES = ("auto", "uvloop", "asyncio")

T = TypeVar("T")
Args = TypeVarTuple("Args")


def choose(environ: Mapping[str, str] | None = None) -> str:
    """The loop to run on, ``"uvloop"`` or ``"asyncio"``, from ``DLSYNC_EVENT_LOOP``."""
    value = (os.environ if environ is None else environ).get(ENV, "")
    choice = value.strip().lower() or "auto"
    if choice not in CHOICES:
        raise ConfigError(f"{ENV}={value!r} is not a loop dlsync knows; use one of "
                          f"{', '.join(CHOICES)}. Nothing was run", key=ENV)
    if choice == "asyncio":
        return "asyncio"
    if _uvloop_imports():
        return "uvloop"
    if choice == "uvloop":
        raise ConfigError(f"{ENV}=uvloop, but uvloop is not installed here (pip install "
                          f"uvloop, or set {ENV}=asyncio). Nothing was run", key=ENV)
    return "asyncio"


def _uvloop_imports() -> bool:
    try:
        importlib.import_module("uvloop")
    except ImportError:
        return False
    return True


def run(func: Callable[[*Args], Awaitable[T]], *args: *Args,
        environ: Mapping[str, str] | None = None) -> T:
    """``anyio.run(func, *args)`` on the loop ``choose`` picks."""
    options: dict[str, Any] = {"use_uvloop": True} if choose(environ) == "uvloop" else {}
    return anyio.run(func, *args, backend_options=options)


def running() -> str:
    """The name of the running loop's library: ``"uvloop"`` or ``"asyncio"``."""
    return type(asyncio.get_running_loop()).__module__.partition(".")[0]
