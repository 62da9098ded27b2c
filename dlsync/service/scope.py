"""Planning a few paths instead of the whole tree: the incremental half of the service.

A scope is a set of root paths relative to the sync root (files, or folders meaning their whole
subtree), sorted by ``path_key`` with nested roots dropped. For each root the walk lists only
its parent folder (and, for a folder, its subtree); state is read by key range; the remote side
is what state says was last confirmed there. Everything then goes through the engine's march,
decide, moves and executor unchanged, so an incremental batch keeps every guarantee of a full
cycle. Drift on the platform is invisible here by design: the periodic reconcile repairs it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from dlsync.local.layout import AnnotationLayout
from dlsync.local.scan import ScanResult, _Frame, _Walker
from dlsync.model import FileStatus, Fingerprint, RemoteItem, StateRecord, path_key
from dlsync.state.queries import _FILE_COLUMNS, StateReader, _file
from dlsync.sync.march import march
from dlsync.sync.planner import Deferred, Planner

_CONFIRMED = frozenset({FileStatus.SYNCED, FileStatus.CONFLICT})


def scope_roots(paths: Iterable[str]) -> tuple[str, ...]:
    """``paths`` sorted by ``path_key``, without duplicates or paths inside another root."""
    roots: list[str] = []
    for path in sorted({p for p in paths if p}, key=path_key):
        if roots and path_key(path).startswith(path_key(roots[-1]) + b"\x00"):
            continue
        roots.append(path)
    return tuple(roots)


class ScopedWalker(_Walker):
    """The scan's walk, started at given roots instead of the sync root."""

    def walk_roots(self, roots: tuple[str, ...]) -> Iterator[ScanResult]:
        """Files and problems at or under each root, in ``path_key`` order."""
        frames: dict[str, tuple[_Frame, dict[str, os.DirEntry[str]]] | None] = {}
        for rel in roots:
            parent = rel.rpartition("/")[0]
            if parent not in frames:
                frames[parent] = self._listing(parent)
            found = frames[parent]
            if found is None or found[1].get(rel) is None:
                continue
            frame, entries = found
            self.stack = [frame]
            yield from self._visit(frame, rel, entries[rel])
            yield from self._drain()

    def _drain(self) -> Iterator[ScanResult]:
        while len(self.stack) > 1:
            item = next(self.stack[-1].entries, None)
            if item is None:
                self.stack.pop()
            elif not isinstance(item, tuple):
                yield item
            else:
                yield from self._visit(self.stack[-1], *item)

    def _listing(self, parent: str) -> tuple[_Frame, dict[str, os.DirEntry[str]]] | None:
        """The parent folder's frame and entries by path; None when it is gone or ignored."""
        if self._inside_ignored(parent):
            return None
        real = os.path.join(self.root, parent) if parent else str(self.root)
        try:
            st = os.stat(real)
            frame = self._open(parent, real, (st.st_dev, st.st_ino))
        except OSError:
            return None
        entries = {item[0]: item[1] for item in frame.entries if isinstance(item, tuple)}
        frame.entries = iter(())
        return frame, entries

    def _inside_ignored(self, parent: str) -> bool:
        parts = parent.split("/") if parent else []
        for depth in range(1, len(parts) + 1):
            folder = "/".join(parts[:depth])
            if self.rules.matches(folder, True) or folder == self.skip_dir:
                return True
        return False


class ScopedReader(StateReader):
    """State reads limited to the subtrees of a scope."""

    def files_under(self, pair: int, roots: tuple[str, ...]) -> Iterator[StateRecord]:
        """The records at or under each root, in ``path_key`` order."""
        sql = (f"SELECT {_FILE_COLUMNS} FROM files f WHERE f.pair = ? AND "
               "(f.key = ? OR (f.key > ? AND f.key < ?)) ORDER BY f.key")
        for root in roots:
            key = path_key(root)
            yield from map(_file, self._stream(sql, (pair, key, key + b"\x00", key + b"\x01")))

    def tracked(self, pair: int) -> int:
        """How many files of the pair state tracks (not counting deleted ones)."""
        counts = self.status_counts(pair)
        return sum(n for status, n in counts.items() if status is not FileStatus.DELETED)


def confirmed_remote(records: Iterable[StateRecord]) -> Iterator[RemoteItem]:
    """The remote items state last confirmed, as the listing entries a full cycle would see."""
    for record in records:
        if record.status in _CONFIRMED and record.item_id and record.sha256:
            yield RemoteItem(item_id=record.item_id, path=record.path, size=record.size,
                             fingerprint=Fingerprint(record.sha256, record.size),
                             annotations_hash=record.annotations_hash)


class ScopedPlanner(Planner):
    """The engine's planner over a scope: same rules, same deferred moves and deletes."""

    roots: tuple[str, ...] = ()

    def walk(self, reader: StateReader) -> Deferred:
        """March the scope's files against its state records and confirmed remote items."""
        assert isinstance(reader, ScopedReader)
        walker = ScopedWalker(Path(self.source.root), self.source.rules,
                              self.source.layout or AnnotationLayout.none(),
                              self.source.follow_symlinks)
        records = list(reader.files_under(self.pair, self.roots))
        local = walker.walk_roots(self.roots)
        self.plan_pairs(march(local, records, confirmed_remote(records)), reader)
        self.deferred.tracked = reader.tracked(self.pair)
        return self.deferred
