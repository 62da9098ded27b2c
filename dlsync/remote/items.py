"""``ItemOps``: items and folders of a dataset: listing, lookup, metadata, moves, deletes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

from dlsync.errors import AmbiguousWriteError, NotFoundError, ProtocolError, ServerError
from dlsync.remote import dql, replies
from dlsync.remote.calls import UNSAFE, form
from dlsync.remote.queries import QueryOps
from dlsync.remote.types import ItemJson


class ItemOps(QueryOps):
    """Read and change items; their bytes move in ``dlsync.remote.transfer``."""

    async def iter_items(self, dataset_id: str, filters: Sequence[dql.Condition] | None = None,
                         *, defaults: bool = True) -> AsyncIterator[ItemJson]:
        """Items of a dataset (files, not hidden, unless ``defaults=False``) matching ``filters``.

        ``filters`` are DQL conditions appended to ``$and``, e.g. ``[dql.under_folder("/d")]``.
        """
        conditions = dql.item_conditions(filters, defaults=defaults)
        async for one in self._iter_query(dataset_id, "items", conditions,
                                          f"list items of dataset {dataset_id}"):
            yield cast(ItemJson, one)

    async def get_item(self, item_id: str) -> ItemJson:
        """The item with id ``item_id``."""
        reply, req = await self._call("GET", f"/items/{item_id}", f"item {item_id}")
        return cast(ItemJson, replies.entity(reply.body, req))

    async def get_item_by_path(self, dataset_id: str, filename: str, *,
                               item_type: str = "file") -> ItemJson:
        """The item whose ``filename`` is exactly ``filename`` (``NotFoundError`` if none)."""
        conditions = [{"type": item_type}, {"filename": filename}]
        found = [one async for one in self._iter_query(
            dataset_id, "items", conditions, f"get {filename} in dataset {dataset_id}")]
        if not found:
            raise NotFoundError(f"no item {filename} in dataset {dataset_id}")
        if len(found) > 1:
            raise ProtocolError(f"{len(found)} items have filename {filename} in dataset "
                                f"{dataset_id}; expected one")
        return cast(ItemJson, found[0])

    async def patch_item(self, item_id: str, diff: dict[str, Any], *,
                         system: bool = False) -> ItemJson:
        """Apply a metadata diff to an item (removed keys as ``None``); return the new item."""
        params = {"system": "true"} if system else None
        reply, req = await self._call("PATCH", f"/items/{item_id}", f"item {item_id}",
                                      params=params, json=diff)
        return cast(ItemJson, replies.entity(reply.body, req))

    async def move_item(self, item_id: str, filename: str) -> ItemJson:
        """Move (rename) an item to ``filename``; its id and annotations stay."""
        return await self.patch_item(item_id, {"filename": filename}, system=True)

    async def make_dir(self, dataset_id: str, folder: str) -> ItemJson:
        """The folder item ``folder`` of a dataset, created when missing."""
        try:
            return await self.get_item_by_path(dataset_id, folder, item_type="dir")
        except NotFoundError:
            pass
        try:
            reply, req = await self._call("POST", f"/datasets/{dataset_id}/items",
                                          f"create folder {folder}", UNSAFE,
                                          body=form({"type": "dir", "path": folder}))
        except (AmbiguousWriteError, ServerError):
            return await self.get_item_by_path(dataset_id, folder, item_type="dir")
        return cast(ItemJson, replies.entity(reply.body, req))

    async def move_items(self, dataset_id: str, item_ids: Sequence[str], folder: str) -> None:
        """Move many items into ``folder`` (found or created first) in one request."""
        target = await self.make_dir(dataset_id, folder)
        await self._call("PUT", f"/datasets/{dataset_id}/items/{target['id']}",
                         f"move {len(item_ids)} items to {folder}", json=list(item_ids))

    async def delete_item(self, item_id: str) -> None:
        """Delete one item."""
        await self._call("DELETE", f"/items/{item_id}", f"item {item_id}")

    async def delete_items(self, dataset_id: str, filters: Sequence[dql.Condition], *,
                           defaults: bool = True) -> Any:
        """Delete every item matching ``filters``; return the remote's reply."""
        body = dql.delete_query("items", dql.item_conditions(filters, defaults=defaults))
        reply, _ = await self._call("POST", f"/datasets/{dataset_id}/query",
                                    f"delete items of dataset {dataset_id}", json=body)
        return reply.body
