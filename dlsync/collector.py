"""How a dlsync process sets CPython's cyclic garbage collector.

A run allocates a handful of dicts and lists for every annotation, request and reply, and
reference counting frees nearly all of them. CPython's default nonetheless starts a young
collection every 700 net allocations, and each one walks every young object and what it
refers to; every tenth promotes survivors to an older generation that is walked again, and the
oldest holds every module, class and function imported at start-up. On a first mirror of 5,000
files with five boxes each that came to 0.3-0.4 s of CPU, 6-7 % of the run (docs/benchmarks.md,
"Garbage collection").

``settle`` is called once, by the ``dlsync`` process's entry point (``dlsync.cli.entry``), not
by ``dlsync.cli.main``, which tests and embedding programs call in their own process:

- ``gc.freeze()`` moves everything alive at that moment (the command line's own imports) out
  of the collector's sight for good, so an old-generation collection no longer walks it;
- the young generation holds ``YOUNG_OBJECTS`` allocations before it is collected, so most
  short-lived objects are freed by reference counting before a collection ever sees them.

Cycles are still collected, only later: the garbage a cycle can hold between two collections is
at most ``YOUNG_OBJECTS`` small objects.
"""

from __future__ import annotations

import gc

YOUNG_OBJECTS = 10_000
"""Net allocations between two young collections (CPython's default is 700)."""
OLDER_EVERY = 10
"""Young collections per middle one, and middle ones per old one (CPython's defaults)."""


def settle() -> None:
    """Freeze what is alive now and space young collections out (see the module docstring)."""
    gc.freeze()
    gc.set_threshold(YOUNG_OBJECTS, OLDER_EVERY, OLDER_EVERY)
