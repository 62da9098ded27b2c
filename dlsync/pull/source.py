"""The platform side of a pull: items with their current annotations, in bounded batches.

A full pull lists every file item under the pair's folder (keyset pages) and fetches the
annotations of each batch of items with one ``itemId $in`` query. An incremental pull asks only
for what moved since a watermark: annotations whose ``updatedAt`` is at or after it (created or
edited) and items whose ``updatedAt`` is at or after it (new, changed, or with an annotation
deleted: the gate, like the platform, moves an item's ``updatedAt`` when one of its annotations
is deleted). The touched items are then fetched and handled like a full pull's.

The watermark is the latest ``updatedAt`` on the platform when a poll starts, so it uses the
platform's clock only; the next poll looks ``PULL_OVERLAP_S`` behind it, and handling an item
twice is harmless (its set is compared with state's).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

from dlsync.constants import PULL_BATCH
from dlsync.model import RelPath
from dlsync.remote import dql
from dlsync.remote.client import DataloopClient
from dlsync.remote.dataset import remote_item
from dlsync.remote.types import AnnotationJson, ItemJson


@dataclass(frozen=True, slots=True)
class RemoteEntry:
    """One file item under the pair's folder and every annotation it has now, by id."""

    item: ItemJson
    path: RelPath
    annotations: tuple[AnnotationJson, ...]


async def latest_stamp(client: DataloopClient, dataset_id: str) -> str | None:
    """The latest ``updatedAt`` of any item or annotation of the dataset (the next watermark)."""
    stamps = [await client.latest_update(dataset_id, "items", []),
              await client.latest_update(dataset_id, "annotations", [])]
    known = [s for s in stamps if s is not None]
    return max(known) if known else None


async def full_batches(client: DataloopClient, dataset_id: str, remote_dir: str,
                       batch: int = PULL_BATCH) -> AsyncIterator[list[RemoteEntry]]:
    """Every file item under ``remote_dir`` with its annotations, ``batch`` items at a time."""
    pending: list[ItemJson] = []
    async for item in client.iter_items(dataset_id, [dql.under_folder(remote_dir)]):
        pending.append(item)
        if len(pending) >= batch:
            yield await _with_annotations(client, dataset_id, remote_dir, pending)
            pending = []
    if pending:
        yield await _with_annotations(client, dataset_id, remote_dir, pending)


async def changed_batches(client: DataloopClient, dataset_id: str, remote_dir: str,
                          since: str, *, also: Iterable[str] = ()
                          ) -> AsyncIterator[list[RemoteEntry]]:
    """The items under ``remote_dir`` touched at or after ``since`` (and the ids in ``also``),
    with their annotations."""
    touched: set[str] = set(also)
    async for note in client.iter_annotations_where(dataset_id, [dql.updated_since(since)]):
        if note.get("itemId"):
            touched.add(str(note["itemId"]))
    async for item in client.iter_items(dataset_id, [dql.under_folder(remote_dir),
                                                     dql.updated_since(since)]):
        touched.add(item["id"])
    ids = sorted(touched)
    for start in range(0, len(ids), PULL_BATCH):
        chunk = ids[start:start + PULL_BATCH]
        items = [item async for item in client.iter_items(
            dataset_id, [dql.under_folder(remote_dir), {"id": {"$in": chunk}}])]
        if items:
            yield await _with_annotations(client, dataset_id, remote_dir, items)


async def _with_annotations(client: DataloopClient, dataset_id: str, remote_dir: str,
                            items: Sequence[ItemJson]) -> list[RemoteEntry]:
    """``items`` (those under ``remote_dir``) with their annotations from one listing."""
    ids = [item["id"] for item in items]
    by_item: dict[str, list[AnnotationJson]] = defaultdict(list)
    async for note in client.iter_annotations_where(dataset_id, [{"itemId": {"$in": ids}}]):
        by_item[str(note.get("itemId"))].append(note)
    entries = []
    for item in items:
        listed = remote_item(item, remote_dir)
        if listed is not None and listed.path:
            entries.append(RemoteEntry(item, listed.path, tuple(by_item.get(item["id"], ()))))
    return entries
