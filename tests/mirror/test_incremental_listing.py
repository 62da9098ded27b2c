"""The incremental remote listing: what changed on the platform is merged into the cache, the
count check falls back to a full listing, and deletes and age always list the folder whole."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from dlsync.constants import FINGERPRINT_KEY
from tests.mirror.conftest import MirrorRun, Remote, fingerprint_of

DAY = 24 * 3600.0


def _files(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(name.encode())


async def _run(mirror: MirrorRun, *flags: str, root: Path | None = None) -> dict[str, Any]:
    code, out, err = await mirror("--json", "--annotations", "none", *flags, root=root)
    assert code == 0, out + err
    summary: dict[str, Any] = json.loads(out)
    return summary


async def _synced(mirror: MirrorRun, source: Path) -> dict[str, Any]:
    """Mirror a.jpg and b.jpg, then run once more so the next run has a watermark to start
    from (the first listing saw an empty folder); return the second run's summary."""
    _files(source, "a.jpg", "b.jpg")
    first = await _run(mirror, "--create")
    assert first["listing"]["kind"] == "full"
    assert first["outcomes"] == {"upload.done": 2}
    return await _run(mirror)


def _cached(state_path: Path) -> dict[str, str]:
    with closing(sqlite3.connect(state_path)) as db:
        return dict(db.execute("SELECT path, item_id FROM remote_items"))


async def test_a_rerun_merges_a_platform_change_and_acts_on_it(
        mirror: MirrorRun, remote: Remote, source: Path) -> None:
    """An item whose fingerprint was changed on the platform (someone re-uploaded it) is seen
    by the incremental listing and restored; an unchanged folder lists nothing new."""
    await _synced(mirror, source)
    quiet = await _run(mirror)
    assert quiet["listing"]["kind"] == "incremental"
    assert quiet["listing"]["total"] == 2
    assert quiet["outcomes"] == {}
    item = (await remote.items())["/a.jpg"]
    mark = fingerprint_of(item)
    await remote.client.patch_item(item["id"], {"metadata": {"user": {FINGERPRINT_KEY: {
        **mark, "sha256": "0" * 64}}}})

    changed = await _run(mirror)

    assert changed["listing"]["kind"] == "incremental"
    assert changed["listing"]["listed"] >= 1
    assert changed["outcomes"] == {"overwrite.done": 1}
    assert fingerprint_of((await remote.items())["/a.jpg"])["sha256"] == mark["sha256"]


async def test_an_item_added_on_the_platform_joins_the_cache(
        mirror: MirrorRun, remote: Remote, source: Path, state_path: Path,
        tmp_path: Path) -> None:
    """An item uploaded on the platform raises the count by one and is one of the changed
    items, so the count agrees and the listing stays incremental; the cache holds it."""
    await _synced(mirror, source)
    extra = tmp_path / "extra.jpg"
    extra.write_bytes(b"from someone else")
    await remote.client.upload(await remote.dataset_id(), extra, "/extra.jpg")

    summary = await _run(mirror)

    assert summary["listing"]["kind"] == "incremental"
    assert summary["listing"]["total"] == 3
    assert summary["outcomes"] == {}
    assert sorted(_cached(state_path)) == ["a.jpg", "b.jpg", "extra.jpg"]


async def test_an_item_deleted_on_the_platform_is_restored_by_the_next_run(
        mirror: MirrorRun, remote: Remote, source: Path, state_path: Path) -> None:
    """A platform delete leaves no changed item to see, but the count drops: the merge is
    refused, the folder is listed whole, and the item is uploaded again."""
    await _synced(mirror, source)
    await remote.client.delete_item((await remote.items())["/b.jpg"]["id"])

    summary = await _run(mirror)

    assert summary["listing"]["kind"] == "full"
    assert "the platform counts 1 items" in summary["listing"]["reason"]
    assert summary["outcomes"] == {"reupload.done": 1}
    assert sorted(await remote.items()) == ["/a.jpg", "/b.jpg"]
    after = await _run(mirror)   # the re-uploaded item is new to the cache: the count agrees
    assert after["listing"]["kind"] == "incremental"
    assert after["outcomes"] == {}


async def test_runs_with_delete_list_the_folder_whole(
        mirror: MirrorRun, remote: Remote, source: Path) -> None:
    """``--delete`` always lists every item, so an untracked remote item is found and deleted
    even when an incremental listing would have taken it as unchanged."""
    await _synced(mirror, source)
    (source / "b.jpg").unlink()

    summary = await _run(mirror, "--delete")

    assert summary["listing"]["kind"] == "full"
    assert "--delete" in summary["listing"]["reason"]
    assert summary["outcomes"] == {"delete.done": 1}
    assert sorted(await remote.items()) == ["/a.jpg"]


async def test_full_listing_interval_and_flag_force_a_full_listing(
        mirror: MirrorRun, source: Path, state_path: Path) -> None:
    """Once ``full_listing_interval`` (24 h) has passed since the last full listing, or with
    ``--full-listing``, the folder is listed whole; otherwise the listing stays incremental."""
    await _synced(mirror, source)
    assert (await _run(mirror))["listing"]["kind"] == "incremental"
    with closing(sqlite3.connect(state_path)) as db, db:
        db.execute("UPDATE listings SET full_at = full_at - ?", (DAY,))

    aged = await _run(mirror)

    assert aged["listing"]["kind"] == "full"
    assert "full_listing_interval" in aged["listing"]["reason"]
    assert (await _run(mirror))["listing"]["kind"] == "incremental"
    forced = await _run(mirror, "--full-listing")
    assert forced["listing"] == {"kind": "full", "reason": "--full-listing", "listed": 2,
                                 "total": 2}


async def test_a_full_listing_interval_of_zero_lists_every_run_whole(
        mirror: MirrorRun, source: Path, tmp_path: Path, gate: Any) -> None:
    """``full_listing_interval = 0`` in the pair's table: every run lists the folder whole."""
    config = tmp_path / "dlsync.toml"
    config.write_text(f"""
[pairs.cams]
source = "{source}"
remote = "{gate.url}"
project = "scenarios"
dataset = "mirror"
annotations = "none"
create = true
full_listing_interval = 0
""", encoding="utf-8")
    _files(source, "a.jpg")
    for _ in range(3):
        code, out, err = await mirror("--json", "--config", str(config), "--pair", "cams")
        assert code == 0, out + err
        assert json.loads(out)["listing"]["kind"] == "full"
