"""The pair's dataset: found (or created) by name, and its items listed as ``RemoteItem``s.

Push, pull and ``ls`` share these; the fingerprint they parse is ``remote.fingerprint``'s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from dlsync import logs
from dlsync.config import PairConfig
from dlsync.errors import NotFoundError, UsageError
from dlsync.model import RemoteItem, is_contained, rel_path
from dlsync.remote import dql
from dlsync.remote.client import DataloopClient
from dlsync.remote.fingerprint import content_of, read_fingerprint, set_hash_of
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


async def list_remote(client: DataloopClient, dataset_id: str, remote_dir: str,
                      backup_dir: str | None = None,
                      observe: Callable[[ItemJson], None] | None = None,
                      ) -> AsyncIterator[RemoteItem]:
    """Every file item under ``remote_dir``, as listing entries (keyset-paged); items under
    ``backup_dir`` (where deletes are moved to) are never part of the listing. ``observe``
    sees each listed item's JSON (the task census reads its refs from it)."""
    hidden = backup_dir.rstrip("/") + "/" if backup_dir else None
    async for item in client.iter_items(dataset_id, [dql.under_folder(remote_dir)]):
        if hidden is not None and (item.get("filename") or "").startswith(hidden):
            continue
        if observe is not None:
            observe(item)
        entry = remote_item(item, remote_dir)
        if entry is not None and entry.path:
            yield entry
