"""structlog set-up: JSON lines for services and pipes, readable console output on a TTY.

Secrets never reach a log line. Every token dlsync loads is registered with ``register_secret``
and the ``redact`` processor replaces it wherever it appears, in any field, at any depth; bearer
headers and anything shaped like a JWT are masked too, even if nobody registered them.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any


@contextmanager
def _rich_hidden() -> Iterator[None]:
    """Keep rich out of sight while structlog is imported. structlog loads rich, when it is
    installed, for its rich tracebacks and pretty-printer; dlsync renders plain tracebacks
    (a local variable may hold a token) and uses rich only for the progress bar, on a TTY.
    Hidden, rich (with pygments and attrs) stays unloaded: about a tenth of a one-shot run's
    start-up. A process that has loaded rich already keeps it as it is."""
    if "rich" in sys.modules:
        yield
        return
    sys.modules["rich"] = None  # type: ignore[assignment]  # "import rich" raises ImportError
    try:
        yield
    finally:
        del sys.modules["rich"]


with _rich_hidden():
    import structlog

REDACTED = "***"

_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_SECRET_KEYS = frozenset(
    {"token", "authorization", "refresh_token", "id_token", "password", "secret", "jwt"}
)

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember ``value`` so that it is masked in every later log line."""
    if value and len(value) >= 8:
        with _secrets_lock:
            _secrets.add(value)


def scrub(text: str) -> str:
    """``text`` with every registered secret, bearer credential and JWT masked."""
    for secret in tuple(_secrets):
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
    return _JWT.sub(REDACTED, text)


def _scrub_value(key: str | None, value: Any) -> Any:
    if key is not None and key.lower() in _SECRET_KEYS and value:
        return REDACTED
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {k: _scrub_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(None, v) for v in value]
    if isinstance(value, BaseException):
        return scrub(f"{type(value).__name__}: {value}")
    return value


def redact(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask secrets in every field of the event."""
    for key in list(event_dict):
        event_dict[key] = _scrub_value(key, event_dict[key])
    return event_dict


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact,
    ]


def configure(*, json: bool | None = None, level: str = "info", stream: Any = None) -> None:
    """Configure structlog for the process.

    ``json=None`` picks JSON lines unless ``stream`` (default stderr) is a TTY.
    """
    out = stream if stream is not None else sys.stderr
    if json is None:
        json = not (hasattr(out, "isatty") and out.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(
            colors=hasattr(out, "isatty") and out.isatty(),
            # tracebacks without local variables: a local may hold a token
            exception_formatter=structlog.dev.plain_traceback)
    )
    structlog.configure(
        processors=[*_shared_processors(), renderer],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )


class _ModuleLogger:
    """A logger that resolves the structlog configuration each time it logs."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __getattr__(self, method: str) -> Any:
        return getattr(structlog.get_logger(self.name).bind(logger=self.name), method)


def get_logger(name: str) -> Any:
    """A structlog logger bound with the module ``name``.

    It stays lazy: the configuration in force when it logs applies (``configure`` may run after
    the module that holds the logger was imported), not the one at import.
    """
    return _ModuleLogger(name)
