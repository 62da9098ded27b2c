"""Planning a few paths instead of the whole tree: the incremental half of the service.

A scope is a set of root paths relative to the sync root (files, or folders meaning their whole
subtree), sorted by ``path_key`` with nested roots dropped. For each root the walk lists only
its parent folder (and, for a folder, its subtree); state is read by key range; the remote side
is what state says was last confirmed there. Everything then goes through the engine's march,
decide, moves and executor unchanged, so an incremental batch keeps every guarantee of a full
cycle. Drift on the platform is invisible here by design: the periodic reconcile repairs it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from dlsync.local.scan import scan_roots
from dlsync.model import FileStatus, Fingerprint, RemoteItem, StateRecord, path_key
from dlsync.push.march import march
from dlsync.push.planner import Deferred, Planner
from dlsync.state.queries import StateReader

_CONFIRMED = frozenset({FileStatus.SYNCED, FileStatus.CONFLICT})


def scope_roots(paths: Iterable[str]) -> tuple[str, ...]:
    """``paths`` sorted by ``path_key``, without duplicates or paths inside another root."""
    roots: list[str] = []
    for path in sorted({p for p in paths if p}, key=path_key):
        if roots and path_key(path).startswith(path_key(roots[-1]) + b"\x00"):
            continue
        roots.append(path)
    return tuple(roots)


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
        records = list(reader.files_under(self.pair, self.roots))
        # a move pairs a new file with a gone one of this walk, which only a record of the
        # scope with an item can be: a folder moved in looks up no file by content
        self._may_move = any(record.item_id is not None for record in records)
        local = scan_roots(Path(self.source.root), self.roots, rules=self.source.rules,
                           layout=self.source.layout,
                           follow_symlinks=self.source.follow_symlinks)
        self.plan_pairs(march(local, records, confirmed_remote(records)), reader)
        if self.deferred.gone or self.deferred.deletes:
            # what the destruction gate's half rule compares deletes with: a count of every
            # tracked row, so only when the batch may delete (most batches only add)
            self.deferred.tracked = reader.tracked(self.pair)
        return self.deferred
