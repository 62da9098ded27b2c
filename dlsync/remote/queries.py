"""``QueryOps``: DQL queries of one dataset: keyset-paged listings and the latest update."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from dlsync.remote import dql, replies
from dlsync.remote.calls import ClientCore


class QueryOps(ClientCore):
    """``POST /datasets/{id}/query``, paged the way dtlpy pages it."""

    async def _iter_query(self, dataset_id: str, resource: str,
                          conditions: Sequence[dql.Condition], what: str,
                          ) -> AsyncIterator[dict[str, Any]]:
        """Every entity matching ``conditions``, in id order, one keyset page at a time."""
        after: str | None = None
        while True:
            body = dql.keyset_query(resource, conditions, self.settings.page_size, after)
            reply, req = await self._call("POST", f"/datasets/{dataset_id}/query", what,
                                          json=body, headers={"user_query": "true"})
            page = replies.page(reply.body, req)
            for one in page["items"]:
                yield one
            if not page["hasNextPage"] or not page["items"]:
                return
            after = page["items"][-1]["id"]

    async def latest_update(self, dataset_id: str, resource: str,
                            conditions: Sequence[dql.Condition]) -> str | None:
        """The latest ``updatedAt`` among the ``resource`` rows matching ``conditions``."""
        body = dql.latest_query(resource, conditions)
        reply, req = await self._call("POST", f"/datasets/{dataset_id}/query",
                                      f"latest {resource} update in dataset {dataset_id}",
                                      json=body, headers={"user_query": "true"})
        found = replies.page(reply.body, req)["items"]
        stamp = found[0].get("updatedAt") if found else None
        return stamp if isinstance(stamp, str) else None
