"""The pair's dataset: found (or created) by name, and its items listed as ``RemoteItem``s.

Push, pull and ``ls`` share these; the fingerprint they parse is ``remote.fingerprint``'s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from dlsync import logs
from dlsync.config import PairConfig
from dlsync.errors import NotFoundError, UsageError
from dlsync.model import RemoteChange, RemoteItem, is_contained, rel_path
from dlsync.remote import dql
from dlsync.remote.client import DataloopClient
from dlsync.remote.fingerprint import content_of, read_fingerprint, set_hash_of
from dlsync.remote.queries import Probe
from dlsync.remote.types import ItemJson

_log = logs.get_logger(__name__)


async def resolve_dataset(client: DataloopClient, pair: PairConfig) -> str:
    """The id of the pair's dataset; created (with its project) only when ``create`` is set."""
    try:
        project = await client.get_project(pair.project, create=pair.create)
        dataset = await client.get_dataset(project["id"], pair.dataset, create=pair.create)
    except NotFoundError as exc:
        raise UsageError(f"{exc}; pass --create (or create = true) to create it") from exc
    return dataset["id"]


def remote_item(item: ItemJson, remote_dir: str) -> RemoteItem | None:
    """The listing entry of ``item`` relative to ``remote_dir``; None when outside it."""
    filename = item.get("filename") or ""
    prefix = remote_dir.rstrip("/") + "/"
    if not filename.startswith(prefix):
        return None
    path = rel_path(filename[len(prefix):])
    if not is_contained(path):
        _log.warning("remote item name cannot be a path under the sync root; item skipped",
                     item_id=item["id"], filename=filename)
        return None
    mark = read_fingerprint(item)
    user = (item.get("metadata") or {}).get("user") or {}
    system_size = (item.get("metadata") or {}).get("system", {}).get("size", 0)
    return RemoteItem(item_id=item["id"], path=path,
                      size=int(system_size or 0), fingerprint=content_of(mark),
                      annotations_hash=set_hash_of(mark),
                      user_metadata=dict(user) if isinstance(user, dict) else {})


@dataclass(slots=True)
class FolderListing:
    """The file items under a pair's ``remote_dir``, as listing entries; items under
    ``backup_dir`` (where deletes are moved to) are never entries. ``seen`` counts every item
    the folder's query returned, entries or not (what ``probe`` counts)."""

    client: DataloopClient
    dataset_id: str
    remote_dir: str
    backup_dir: str | None = None
    seen: int = 0

    def conditions(self) -> list[dql.Condition]:
        """The folder's item query (dtlpy's defaults: files, not hidden)."""
        return dql.item_conditions([dql.under_folder(self.remote_dir)])

    async def probe(self) -> Probe:
        """The folder's latest ``updatedAt`` and its item count, in one request."""
        return await self.client.probe(self.dataset_id, "items", self.conditions())

    def backed_up(self, item: ItemJson) -> bool:
        """Whether ``item`` is under the backup folder (never a listing entry)."""
        hidden = self.backup_dir.rstrip("/") + "/" if self.backup_dir else None
        return hidden is not None and (item.get("filename") or "").startswith(hidden)

    def entry(self, item: ItemJson) -> RemoteItem | None:
        """``item``'s listing entry; ``None`` under the backup folder or outside the root."""
        if self.backed_up(item):
            return None
        entry = remote_item(item, self.remote_dir)
        return entry if entry is not None and entry.path else None

    async def items(self, observe: Callable[[ItemJson], None] | None = None
                    ) -> AsyncIterator[RemoteItem]:
        """Every entry (keyset-paged). ``observe`` sees each entry's item JSON (the task census
        reads its refs from it)."""
        async for item in self.client.iter_items(self.dataset_id, [dql.under_folder(
                self.remote_dir)]):
            self.seen += 1
            if self.backed_up(item):
                continue
            if observe is not None:
                observe(item)
            entry = remote_item(item, self.remote_dir)
            if entry is not None and entry.path:
                yield entry

    async def changes(self, since: str) -> AsyncIterator[RemoteChange]:
        """Every item of the folder whose ``updatedAt`` is ``since`` or later, with its entry."""
        async for item in self.client.iter_items(self.dataset_id, [
                dql.under_folder(self.remote_dir), dql.updated_since(since)]):
            self.seen += 1
            yield RemoteChange(item["id"], self.entry(item))


async def list_remote(client: DataloopClient, dataset_id: str, remote_dir: str,
                      backup_dir: str | None = None,
                      observe: Callable[[ItemJson], None] | None = None,
                      ) -> AsyncIterator[RemoteItem]:
    """Every file item under ``remote_dir``, as listing entries (keyset-paged); items under
    ``backup_dir`` (where deletes are moved to) are never part of the listing. ``observe``
    sees each listed item's JSON (the task census reads its refs from it)."""
    async for entry in FolderListing(client, dataset_id, remote_dir, backup_dir).items(observe):
        yield entry
