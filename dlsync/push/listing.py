"""The remote listing a push cycle makes: incremental when it can be trusted, else full.

A full listing replaces the pair's remote cache with every item of its folder. An incremental
one asks the platform for two things: the folder's item count and latest ``updatedAt`` (one
one-row query), and the items whose ``updatedAt`` is at or after the last listing's watermark;
it merges those into the cache, in one transaction that commits only when the count agrees: the
last count plus the changed items the cache did not hold must equal the platform's count now.
Otherwise (an item deleted or moved out, say) the merge is rolled back and a full listing runs
in the same cycle.

The watermark is the latest ``updatedAt`` the listing's count query saw, less
``LISTING_OVERLAP_S`` while that stamp was recent by the platform's own clock (its ``Date``
header): an item written while the platform answered could carry a stamp a little older than
the latest one. Once the stamp is older than the overlap, the watermark is one millisecond past
it, so a folder nobody touches lists nothing. Platform time only: the local clock never decides
what is listed.

A full listing always runs with ``--delete`` (or ``delete = true``), ``--full-listing``, a pair
with a ``task`` (its census counts every item) or ``--task-backfill``, before the first listing,
when the backup folder changed, and once ``full_listing_interval`` has passed since the last
full one. docs/operations.md, "Incremental remote listing", says what an incremental listing
can miss.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dlsync.config import PairConfig
from dlsync.constants import LISTING_OVERLAP_S
from dlsync.remote import dql
from dlsync.remote.dataset import FolderListing
from dlsync.remote.queries import Probe
from dlsync.remote.types import ItemJson
from dlsync.state.store import ListingMark
from dlsync.state.writer import StateWriter


class ListingKind(enum.StrEnum):
    """How the remote cache was brought up to date."""

    FULL = "full"
    INCREMENTAL = "incremental"


@dataclass(frozen=True, slots=True)
class ListingReport:
    """Which listing ran, why, how many items it returned, and the folder's item count."""

    kind: ListingKind
    reason: str
    listed: int
    total: int

    def as_json(self) -> dict[str, Any]:
        """The summary's ``listing`` object."""
        return {"kind": self.kind.value, "reason": self.reason, "listed": self.listed,
                "total": self.total}


def basis_of(pair: PairConfig) -> str:
    """What the cached rows are filtered by: a change means the cache must be listed anew."""
    return json.dumps({"backup_dir": pair.backup_dir})


def _instant(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def watermark_of(probe: Probe) -> str | None:
    """Where the next incremental listing starts: the latest ``updatedAt`` less the overlap;
    once the platform's clock says that stamp is older than the overlap, just after it (every
    item stamped then was in the count: stamps are to the millisecond)."""
    if probe.latest is None:
        return None
    settled = probe.now is not None and \
        _instant(probe.latest) <= _instant(probe.now) - timedelta(seconds=LISTING_OVERLAP_S)
    return dql.behind(probe.latest, -0.001 if settled else LISTING_OVERLAP_S)


def full_reason(pair: PairConfig, mark: ListingMark | None, now: float,
                forced: str | None = None) -> str | None:
    """Why this cycle must list the whole folder; ``None`` when an incremental listing may do.
    ``forced`` names a reason the caller already has (``--full-listing``)."""
    if forced is not None:
        return forced
    if pair.delete:
        return "deletes are on (--delete)"
    if pair.task is not None:
        return "the pair has a task (its census counts every item)"
    if mark is None or mark.watermark is None:
        return "no watermark yet (the first listing, or the folder was empty)"
    if mark.basis != basis_of(pair):
        return "the backup folder changed"
    if now - mark.full_at >= pair.full_listing_interval:
        return f"full_listing_interval ({pair.full_listing_interval:g} s) has passed"
    return None


@dataclass(slots=True)
class Lister:
    """Lists one pair's folder into its remote cache, incrementally when it can."""

    folder: FolderListing
    pair: PairConfig
    pair_id: int
    now: float
    observe: Callable[[ItemJson], None] | None = None

    async def run(self, writer: StateWriter, mark: ListingMark | None,
                  forced: str | None = None) -> ListingReport:
        """List (incrementally or in full) and record the listing mark with the cache."""
        probe = await self.folder.probe()
        reason = full_reason(self.pair, mark, self.now, forced)
        if reason is None and probe.total is None:
            reason = "the platform's reply had no item count (totalItemsCount)"
        if reason is None:
            assert mark is not None and mark.watermark is not None
            report, reason = await self._incremental(writer, mark, probe)
            if report is not None:
                return report
        return await self._full(writer, probe, reason)

    async def _full(self, writer: StateWriter, probe: Probe, reason: str) -> ListingReport:
        self.folder.seen = 0
        basis = basis_of(self.pair)

        def seal(_rows: int) -> ListingMark:
            return ListingMark(watermark_of(probe), self.folder.seen, self.now, basis)

        listed = await writer.replace_remote_items(self.pair_id,
                                                   self.folder.items(self.observe), seal)
        return ListingReport(ListingKind.FULL, reason, listed, self.folder.seen)

    async def _incremental(self, writer: StateWriter, mark: ListingMark,
                           probe: Probe) -> tuple[ListingReport | None, str]:
        """The merged listing, or ``None`` and why the count refused it."""
        since = mark.watermark
        assert since is not None
        refused = ""

        def seal(new: int) -> ListingMark | None:
            nonlocal refused
            expected = mark.total + new
            if probe.total != expected:
                refused = (f"the platform counts {probe.total} items in the folder, the cache "
                           f"accounts for {expected}")
                return None
            return ListingMark(watermark_of(probe) or since, probe.total, mark.full_at,
                               mark.basis)

        self.folder.seen = 0
        merged = await writer.merge_remote_items(self.pair_id, self.folder.changes(since), seal)
        if merged is None:
            return None, refused
        return ListingReport(ListingKind.INCREMENTAL, f"items changed since {since}", merged,
                             probe.total or 0), refused
