"""Planning a few paths instead of the whole tree: the incremental half of the service.

A scope is a set of root paths relative to the sync root (files, or folders meaning their whole
subtree), sorted by ``path_key`` with nested roots dropped. For each root the walk lists only
its parent folder (and, for a folder, its subtree); state is read by key range; the remote side
is what state says was last confirmed there. Everything then goes through the engine's march,
decide, moves and executor unchanged, so an incremental batch keeps every guarantee of a full
cycle. Drift on the platform is invisible here by design: the periodic reconcile repairs it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
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


@dataclass(slots=True)
class Arrivals:
    """Folders that arrived whole (the watcher reported the folder, the settler expanded it into
    its files), so that a batch holding every one of its files plans the folder as one root: one
    state range and one walk instead of one of each per file. Each folder is decided at the
    first batch that holds any of its files; it is forgotten once nothing of it waits."""

    counts: dict[str, int] = field(default_factory=dict)    # folder: files found in it

    def expanded(self, folder: str, files: int) -> None:
        """``folder`` arrived with ``files`` files in it."""
        self.counts[folder] = files

    def roots(self, files: Sequence[str], pending: Iterable[str]) -> list[str]:
        """``files``, with the files of an arrived folder replaced by the folder when all of
        them are there and none of its paths still waits to settle (a file written into it
        since is still set aside by its mtime, as in any batch)."""
        if not self.counts:
            return list(files)
        members: dict[str, list[str]] = {}
        rest: list[str] = []
        for path in files:
            folder = self._arrived_in(path)
            if folder is None:
                rest.append(path)
            else:
                members.setdefault(folder, []).append(path)
        waiting = {folder for path in pending if (folder := self._arrived_in(path)) is not None}
        for folder in list(self.counts):
            found = members.get(folder)
            if found is None:
                if folder not in waiting:
                    del self.counts[folder]      # nothing of it is left to come
                continue
            whole = len(found) >= self.counts.pop(folder) and folder not in waiting
            rest.extend([folder] if whole else found)
        return rest

    def _arrived_in(self, path: str) -> str | None:
        """The outermost arrived folder that holds ``path``, if any."""
        start = 0
        while (cut := path.find("/", start)) > 0:
            if path[:cut] in self.counts:
                return path[:cut]
            start = cut + 1
        return None


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
