"""How a dlsync client process sets CPython's cyclic garbage collector.

A run allocates a handful of dicts and lists for every annotation, request and reply, and
reference counting frees nearly all of them. CPython's default nonetheless starts a young
collection every 700 net allocations, and each one walks every young object and what it
refers to; every tenth promotes survivors to an older generation that is walked again, and the
oldest holds every module, class and function imported at start-up. A first mirror of 5,000
files with five boxes each spent 0.3-0.4 s of CPU in collections (docs/benchmarks.md, "Fifth
pass").

``settle`` acts only in a process that the ``dlsync`` entry point started (``own_process``, from
``dlsync.cli.entry``), never in one that calls ``dlsync.cli.main`` itself (tests, programs that
embed dlsync). The client commands (mirror, pull, the service) call it once their modules are
imported:

- ``gc.freeze()`` moves everything alive at that moment (the imported code) out of the
  collector's sight for good, so an old-generation collection no longer walks it;
- the young generation holds ``YOUNG_OBJECTS`` allocations before it is collected, so most
  short-lived objects are freed by reference counting before a collection ever sees them.

Cycles are still collected, only later: the garbage a cycle can hold between two collections is
at most ``YOUNG_OBJECTS`` small objects. The gate keeps CPython's defaults: serving, it spent
no less CPU per request with this setting, in some rounds more (docs/benchmarks.md, "Fifth
pass").
"""

from __future__ import annotations

import gc

YOUNG_OBJECTS = 10_000
"""Net allocations between two young collections (CPython's default is 700)."""
OLDER_EVERY = 10
"""Young collections per middle one, and middle ones per old one (CPython's defaults)."""

_own_process = False


def own_process() -> None:
    """Mark this process as dlsync's own: ``settle`` may change its collector."""
    global _own_process
    _own_process = True


def settle() -> None:
    """In dlsync's own process, freeze what is alive now and space young collections out (see
    the module docstring); elsewhere, nothing."""
    if not _own_process:
        return
    gc.freeze()
    gc.set_threshold(YOUNG_OBJECTS, OLDER_EVERY, OLDER_EVERY)


def owns_process() -> bool:
    """Whether the ``dlsync`` entry point started this process (``own_process``)."""
    return _own_process
