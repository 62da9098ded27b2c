"""``QueryOps``: DQL queries of one dataset: keyset-paged listings, the latest update, counts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

from dlsync.remote import dql, replies
from dlsync.remote.calls import ClientCore


@dataclass(frozen=True, slots=True)
class Probe:
    """What one one-row query says of a whole filter: its latest ``updatedAt`` and its count,
    and the platform's time when it answered (its ``Date`` header, to the second)."""

    latest: str | None
    total: int | None        # None: the reply had no ``totalItemsCount``
    now: str | None = None


def reply_time(headers: Mapping[str, str]) -> str | None:
    """The ``Date`` header of a reply as an ISO 8601 UTC stamp; ``None`` when absent or bad."""
    raw = headers.get("Date") or headers.get("date")
    try:
        when = parsedate_to_datetime(raw) if raw else None
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


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

    async def probe(self, dataset_id: str, resource: str,
                    conditions: Sequence[dql.Condition]) -> Probe:
        """The latest ``updatedAt`` and the count (``totalItemsCount``) of the ``resource`` rows
        matching ``conditions``: one request for a one-row page. A reply without a count gives
        ``total=None`` (the caller cannot check counts then)."""
        body = dql.latest_query(resource, conditions)
        reply, req = await self._call("POST", f"/datasets/{dataset_id}/query",
                                      f"count {resource} in dataset {dataset_id}",
                                      json=body, headers={"user_query": "true"})
        page = replies.page(reply.body, req)
        total = page.get("totalItemsCount")
        if not isinstance(total, int) or isinstance(total, bool) or total < 0:
            total = None
        found = page["items"]
        stamp = found[0].get("updatedAt") if found else None
        return Probe(stamp if isinstance(stamp, str) else None, total, reply_time(reply.headers))
