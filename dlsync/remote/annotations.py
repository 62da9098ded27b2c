"""``AnnotationOps``: an item's annotations: listed, posted (exactly once), deleted.

An annotation POST is not idempotent, so the pacer never re-sends one that may have reached the
remote. ``post_annotations_exactly_once`` decides itself whether to post again: it stamps each
annotation (``dlsync.remote.stamps``), and after an ambiguous failure lists the item and posts
only what is missing; the pacer's ``RetryBudget`` says when.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import cast

from dlsync import constants
from dlsync.errors import AmbiguousWriteError, ServerError
from dlsync.remote import dql, replies, stamps
from dlsync.remote.calls import UNSAFE
from dlsync.remote.nonce import nonce
from dlsync.remote.queries import QueryOps
from dlsync.remote.types import AnnotationJson


class AnnotationOps(QueryOps):
    """List, post and delete annotations."""

    async def iter_annotations(self, dataset_id: str,
                               item_id: str) -> AsyncIterator[AnnotationJson]:
        """Every annotation of one item (all types but ``note``), in id order."""
        async for one in self._iter_query(dataset_id, "annotations",
                                          dql.annotation_conditions(item_id),
                                          f"list annotations of item {item_id}"):
            yield cast(AnnotationJson, one)

    async def iter_annotations_where(self, dataset_id: str,
                                     conditions: Sequence[dql.Condition],
                                     ) -> AsyncIterator[AnnotationJson]:
        """Annotations of a dataset (all types but ``note``) matching ``conditions``, by id."""
        full = [dql.annotation_types(), *conditions]
        async for one in self._iter_query(dataset_id, "annotations", full,
                                          f"list annotations of dataset {dataset_id}"):
            yield cast(AnnotationJson, one)

    async def post_annotations(self, item_id: str,
                               annotations: Sequence[AnnotationJson]) -> list[AnnotationJson]:
        """Post annotations in batches of 100; never re-sent after an ambiguous failure.

        Raises ``AmbiguousWriteError`` (or ``ServerError``) when a batch may have been applied;
        ``post_annotations_exactly_once`` recovers from that.
        """
        created: list[AnnotationJson] = []
        for start in range(0, len(annotations), constants.ANNOTATION_BATCH):
            batch = list(annotations[start:start + constants.ANNOTATION_BATCH])
            reply, req = await self._call("POST", f"/items/{item_id}/annotations",
                                          f"{len(batch)} annotations of item {item_id}",
                                          UNSAFE, json=batch)
            created.extend(cast(list[AnnotationJson], replies.entities(reply.body, req)))
        return created

    async def post_annotations_exactly_once(
            self, dataset_id: str, item_id: str, annotations: Sequence[AnnotationJson], *,
            key: str | None = None) -> list[AnnotationJson]:
        """Post ``annotations`` so that each lands exactly once, even across ambiguous failures.

        Each is stamped ``metadata.user.dlsync = {"hash", "op": key}`` (``key`` defaults to a
        fresh UUID). After an ambiguous failure, and the pacer's backoff, the item's annotations
        are listed and only the stamped ones not yet there are posted; attempts and waiting are
        bounded by the pacer's limits. Returns the remote annotations of this post.
        """
        op = key or nonce()
        wanted = [stamps.stamp(one, op) for one in annotations]
        pending = wanted
        budget = self.pacer.retry_budget(f"post annotations of item {item_id}")
        while True:
            try:
                created = await self.post_annotations(item_id, pending)
                break
            except (AmbiguousWriteError, ServerError) as exc:
                if not await budget.wait(exc, then="list the item, post only what is missing"):
                    raise
            pending = stamps.missing(wanted, await self._stamped(dataset_id, item_id, op))
        if budget.failures == 0:
            # nothing was ambiguous: the reply names every annotation this post created
            return [one for one in created if (stamps.stamp_key(one) or ("", ""))[1] == op]
        return await self._stamped(dataset_id, item_id, op)

    async def _stamped(self, dataset_id: str, item_id: str, op: str) -> list[AnnotationJson]:
        """The item's annotations stamped with operation key ``op``."""
        return [one async for one in self.iter_annotations(dataset_id, item_id)
                if (stamps.stamp_key(one) or ("", ""))[1] == op]

    async def delete_annotation(self, annotation_id: str) -> None:
        """Delete one annotation (the body names the user, as dtlpy sends it)."""
        await self._call("DELETE", f"/annotations/{annotation_id}",
                         f"annotation {annotation_id}",
                         json={"username": self.credentials.email or ""})

    async def delete_annotations(self, dataset_id: str, annotation_ids: Sequence[str]) -> None:
        """Delete many annotations by id in one query."""
        if not annotation_ids:
            return
        body = dql.delete_query("annotations",
                                [{"annotationId": {"$in": list(annotation_ids)}}])
        await self._call("POST", f"/datasets/{dataset_id}/query",
                         f"delete {len(annotation_ids)} annotations", json=body)
