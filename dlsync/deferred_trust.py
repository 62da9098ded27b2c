"""aiohttp's default TLS trust, read at the first handshake rather than at import.

Importing aiohttp builds its two default TLS contexts (in ``aiohttp.connector``), and each
parses the system's CA bundle: 0.07-0.1 s of every dlsync process on a small machine, spent
before its first request whether or not the remote speaks TLS (the local gate does not), and
twice where once would do (only one of the two contexts checks certificates).

``install`` puts a finder on ``sys.meta_path`` that acts once, on the first import of
``aiohttp.connector``. While that module runs, ``ssl.SSLContext.set_default_verify_paths``
(which ``ssl.create_default_context`` reaches through ``load_default_certs``) notes the request
on the context instead of reading the bundle; the context reads it when it first wraps a
connection (``wrap_bio``, which asyncio and uvloop use, or ``wrap_socket``), from the same
places (``SSL_CERT_FILE``, ``SSL_CERT_DIR``, the system's defaults). So each context trusts
exactly what it would have trusted. ``ssl.SSLContext`` stays the same class, so no module
captures anything else, and contexts made at any other time are untouched. If aiohttp was
imported before dlsync, nothing changes.

Until its first handshake such a context reports an empty store (``cert_store_stats``,
``get_ca_certs``); neither dlsync nor aiohttp reads those. Were a connection ever wrapped some
other way, the context would trust nothing and the handshake would fail verification: the
deferral can make a connection fail, never make it less strict. Real handshakes on both event
loops hold it to that (``tests/remote/test_deferred_trust.py``).
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from importlib.machinery import ModuleSpec, PathFinder
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from importlib.abc import Loader

MODULE = "aiohttp.connector"
_DEFERRED = "set_default_verify_paths"
_LOCK = threading.Lock()
_WRAPPERS = ("wrap_bio", "wrap_socket")


def install() -> None:
    """Defer aiohttp's default trust, if aiohttp is imported later in this process."""
    if MODULE not in sys.modules and not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


class _Finder:
    """Finds only ``aiohttp.connector``, once, through the usual path finder; its loader then
    runs the module with trust deferred."""

    def __init__(self) -> None:
        self.used = False

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if name != MODULE or self.used:
            return None
        self.used = True
        spec = PathFinder.find_spec(name, path, target)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None   # not an ordinary module on the path: imported as usual
        spec.loader = cast("Loader", _Loader(spec.loader, self))
        return spec


class _Loader:
    """The module's own loader, with trust deferred while the module runs."""

    def __init__(self, loader: Any, finder: _Finder) -> None:
        self._loader = loader
        self._finder = finder

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        result: ModuleType | None = self._loader.create_module(spec)
        return result

    def exec_module(self, module: ModuleType) -> None:
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self._finder)
        with _trust_deferred():
            self._loader.exec_module(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)   # get_source and the like, for tracebacks


@contextlib.contextmanager
def _trust_deferred() -> Iterator[None]:
    """While the block runs, ``set_default_verify_paths`` on any SSL context defers itself."""
    import ssl

    cls = ssl.SSLContext
    read_now: Callable[[ssl.SSLContext], None] = getattr(cls, _DEFERRED)
    own = cls.__dict__.get(_DEFERRED)

    def defer(context: ssl.SSLContext) -> None:
        for name in _WRAPPERS:
            wrap = getattr(type(context), name)
            setattr(context, name, _reading_first(context, wrap, read_now))

    setattr(cls, _DEFERRED, defer)
    try:
        yield
    finally:
        if own is None:
            delattr(cls, _DEFERRED)
        else:
            setattr(cls, _DEFERRED, own)


def _reading_first(context: Any, wrap: Callable[..., Any],
                   read_now: Callable[[Any], None]) -> Callable[..., Any]:
    """``context``'s own ``wrap`` that first reads the trust it deferred (once, whichever
    wrapper comes first, in whichever thread)."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            if "wrap_bio" in vars(context):
                read_now(context)
                for name in _WRAPPERS:
                    vars(context).pop(name, None)
        return wrap(context, *args, **kwargs)

    return wrapped
