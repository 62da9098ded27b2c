"""Pairing: a streaming merge-join of the local scan, the state records and the remote listing.

Each input is sorted by ``model.path_key``; the march holds one head element per input and yields
one ``Pair`` per distinct path, in that same order. An input that goes backwards (or repeats a
path) raises ``ListingOrderError``: pairing an unsorted listing would pair the wrong files.

Scan problems take part in the join: the pair of a problem path carries it as ``problem``, and so
does every pair under it (a directory that could not be listed hides its files, which must not
look deleted). Problems that name no usable path (``UNDECODABLE_NAME``, ``DUPLICATE_NAME``) cannot
match any state or remote path and are left out; the scan reports them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from dlsync.errors import StateError
from dlsync.model import (
    LocalEntry,
    ProblemKind,
    RelPath,
    RemoteItem,
    ScanProblem,
    StateRecord,
    path_key,
)

T = TypeVar("T")
UNJOINABLE = frozenset({ProblemKind.UNDECODABLE_NAME, ProblemKind.DUPLICATE_NAME})
"""Problems without a usable path: left out of the join (the planner reports them)."""


class ListingOrderError(StateError):
    """An input of the march is not sorted by ``path_key``; nothing is paired past it."""


@dataclass(frozen=True, slots=True)
class Pair:
    """Everything known about one path: what is on disk, in state, and on the platform."""

    path: RelPath
    local: LocalEntry | None = None
    state: StateRecord | None = None
    remote: RemoteItem | None = None
    problem: ScanProblem | None = None   # the scan could not see this path (or a parent of it)


class _Head(Generic[T]):
    """One input of the join: its current element and key, checked to be increasing."""

    def __init__(self, name: str, items: Iterable[T], key: Callable[[T], bytes]) -> None:
        self.name = name
        self.items = iter(items)
        self.key_of = key
        self.item: T | None = None
        self.key: bytes | None = None
        self.advance()

    def advance(self) -> None:
        previous = self.key
        self.item = next(self.items, None)
        self.key = None if self.item is None else self.key_of(self.item)
        if self.key is not None and previous is not None and self.key <= previous:
            raise ListingOrderError(
                f"the {self.name} listing is out of order: {_show(self.key)} came after "
                f"{_show(previous)}; nothing was synced past this point")

    def take(self, key: bytes) -> T | None:
        """The current element if its key is ``key`` (and move on), else None."""
        if self.key != key:
            return None
        item = self.item
        self.advance()
        return item


def march(local: Iterable[LocalEntry | ScanProblem], state: Iterable[StateRecord],
          remote: Iterable[RemoteItem]) -> Iterator[Pair]:
    """Yield one ``Pair`` per path found in any input, in ``path_key`` order."""
    local_head = _Head("local scan", _joinable(local), lambda e: path_key(e.path))
    state_head = _Head("state", state, lambda r: path_key(r.path))
    remote_head = _Head("remote", remote, lambda r: path_key(r.path))
    hidden: ScanProblem | None = None
    while keys := [k for k in (local_head.key, state_head.key, remote_head.key) if k is not None]:
        key = min(keys)
        found_local = local_head.take(key)
        found_state = state_head.take(key)
        found_remote = remote_head.take(key)
        problem = found_local if isinstance(found_local, ScanProblem) else None
        if problem is not None:
            hidden = problem
        elif hidden is not None and key.startswith(path_key(hidden.path) + b"\x00"):
            problem = hidden
        entry = found_local if isinstance(found_local, LocalEntry) else None
        # a conditional, not next() over a generator: this runs for every path, and an
        # abandoned generator is closed by throwing GeneratorExit into it
        first = found_local if found_local is not None else \
            found_state if found_state is not None else found_remote
        assert first is not None
        path = first.path
        yield Pair(RelPath(path), entry, found_state, found_remote, problem)


def _joinable(local: Iterable[LocalEntry | ScanProblem]) -> Iterator[LocalEntry | ScanProblem]:
    return (e for e in local if not (isinstance(e, ScanProblem) and e.kind in UNJOINABLE))


def _show(key: bytes) -> str:
    return repr(key.replace(b"\x00", b"/").decode("utf-8", "backslashreplace"))
