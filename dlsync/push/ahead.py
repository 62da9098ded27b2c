"""``ReadAhead``: the files the planner will reach next, read by a helper process meanwhile.

The planner's walk passes through ``ReadAhead.pairs``. Once more than ``READ_HELPER_AFTER``
files of the walk have needed a read (a tree with that many new or changed files), each further
such file is sent to a ``ReadHelper`` as the march yields it, and its pair is held in a window of
``READ_AHEAD_WINDOW`` pairs; the planner gets the pairs in march order, each with the helper's
result at hand (``read``, ``annotations``). A smaller walk never starts the helper: its start-up
would cost more than it saves.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path

from dlsync import constants, logs
from dlsync.local.annotations import AnnotationSet
from dlsync.local.fingerprint import FileRead
from dlsync.local.helper import Prefetched, ReadHelper
from dlsync.model import LocalEntry
from dlsync.push.decide import needs_hash
from dlsync.push.march import Pair

_log = logs.get_logger(__name__)
_NOTHING = Prefetched(None, None)


class ReadAhead:
    """Reads ahead of one walk of ``root``, keeping the bytes of files up to ``keep`` bytes;
    ``annotated`` when annotation files are dtlpy JSON (another label format is read by its
    codec, in the planner). Call ``close`` at the end."""

    def __init__(self, root: Path, keep: int, *, annotated: bool,
                 after: int = constants.READ_HELPER_AFTER) -> None:
        self._root = root
        self._keep = keep
        self._annotated = annotated
        self._after = after
        self._window = constants.READ_AHEAD_WINDOW
        self._needed = 0
        self._helper: ReadHelper | None = None
        self._current: tuple[Pair, Prefetched] | None = None

    @property
    def answered(self) -> int:
        """How many files the helper process read and hashed."""
        return self._helper.answered if self._helper is not None else 0

    def pairs(self, pairs: Iterable[Pair]) -> Iterator[Pair]:
        """``pairs`` in the same order, each yielded once the helper's result for it is in."""
        window: deque[tuple[Pair, bool]] = deque()
        for pair in pairs:
            submitted = self._submit(pair)
            if not submitted and not window:
                self._current = None
                yield pair
                continue
            window.append((pair, submitted))
            if len(window) > self._window:
                yield self._ready(*window.popleft())
        while window:
            yield self._ready(*window.popleft())
        self._current = None

    def read(self, pair: Pair) -> FileRead | None:
        """The helper's read of ``pair``'s file, when it made one."""
        return self._result(pair).read

    def annotations(self, pair: Pair) -> AnnotationSet | None:
        """The helper's parse of ``pair``'s annotation file, when it made one."""
        return self._result(pair).annotations

    def close(self) -> None:
        """End the helper process, if one was started."""
        if self._helper is not None:
            self._helper.close()
            if self._helper.failure is not None:
                _log.warning("the helper process reading files " + self._helper.failure +
                             "; the planner read the files it left", files=self.answered)

    def _result(self, pair: Pair) -> Prefetched:
        current = self._current
        return current[1] if current is not None and current[0] is pair else _NOTHING

    def _submit(self, pair: Pair) -> bool:
        if not needs_hash(pair):
            return False
        self._needed += 1
        if self._needed <= self._after:
            return False
        if self._helper is None:
            self._helper = ReadHelper(self._root, self._keep)
        local: LocalEntry | None = pair.local
        assert local is not None
        return self._helper.submit(local, local.annotation_path if self._annotated else None)

    def _ready(self, pair: Pair, submitted: bool) -> Pair:
        assert self._helper is not None or not submitted
        self._current = (pair, self._helper.take() if self._helper and submitted else _NOTHING)
        return pair
