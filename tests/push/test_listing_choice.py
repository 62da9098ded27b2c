"""Which listing a push makes (pure): the reasons for a full one, and where the next starts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from dlsync.config.settings import PairConfig
from dlsync.push.listing import basis_of, full_reason, watermark_of
from dlsync.remote.queries import Probe, reply_time
from dlsync.state.store import ListingMark

PAIR = PairConfig(name="p", source=Path("/src"), project="P", dataset="D")
NOW = 1_000_000.0
MARK = ListingMark("2026-11-30T10:00:00.000Z", 5, NOW - 60, basis_of(PAIR))


def test_an_incremental_listing_needs_a_fresh_mark_without_deletes_or_tasks() -> None:
    """Every reason for a full listing, first to last; a fresh mark and none of them: None."""
    assert full_reason(PAIR, MARK, NOW) is None
    assert full_reason(PAIR, MARK, NOW, "--full-listing") == "--full-listing"
    assert "--delete" in (full_reason(replace(PAIR, delete=True), MARK, NOW) or "")
    assert "task" in (full_reason(replace(PAIR, task="review"), MARK, NOW) or "")
    assert "no watermark" in (full_reason(PAIR, None, NOW) or "")
    assert "no watermark" in (full_reason(PAIR, replace(MARK, watermark=None), NOW) or "")
    assert "backup" in (full_reason(replace(PAIR, backup_dir="/.trash"), MARK, NOW) or "")
    assert "full_listing_interval" in (full_reason(PAIR, MARK, NOW + 86_400) or "")
    assert "full_listing_interval" in (full_reason(
        replace(PAIR, full_listing_interval=0.0), MARK, NOW) or "")


def test_the_watermark_keeps_an_overlap_while_the_latest_stamp_is_recent() -> None:
    """The next listing starts 30 s before the latest stamp while the platform's clock says it
    is recent (or says nothing), and just after the stamp once it is older than that."""
    latest = "2026-11-30T10:00:00.250Z"
    assert watermark_of(Probe(None, 0, "2026-11-30T10:00:00.000Z")) is None
    assert watermark_of(Probe(latest, 3, None)) == "2026-11-30T09:59:30.250Z"
    assert watermark_of(Probe(latest, 3, "2026-11-30T10:00:10.000Z")) == \
        "2026-11-30T09:59:30.250Z"
    assert watermark_of(Probe(latest, 3, "2026-11-30T10:05:00.000Z")) == \
        "2026-11-30T10:00:00.251Z"


def test_the_platform_time_comes_from_the_date_header() -> None:
    """An HTTP date becomes an ISO stamp; a missing or bad one is no time at all."""
    assert reply_time({"Date": "Mon, 30 Nov 2026 10:05:00 GMT"}) == "2026-11-30T10:05:00.000Z"
    assert reply_time({}) is None
    assert reply_time({"Date": "yesterday"}) is None
