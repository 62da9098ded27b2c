"""Faults: 5xx answers are retried away; dropped annotation posts never duplicate annotations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from dlsync.errors import AmbiguousWriteError, TruncatedUploadError
from dlsync.gate.faults import FaultSettings
from dlsync.remote.client import DataloopClient
from dlsync.remote.credentials import Credentials
from dlsync.remote.stamps import stamp_key
from dlsync.remote.types import AnnotationJson, DatasetJson, UploadOp
from tests.remote.conftest import EMAIL, settings_for
from tests.remote.test_client_ops import box, put

ANNOTATION_ROUTE = "POST /items/{id}/annotations"


async def test_first_attempts_answered_5xx_all_succeed_through_retries(
        gate: Any, client: DataloopClient, dataset: DatasetJson, tmp_path: Path) -> None:
    """With every request's first attempt answered 503, 200 concurrent uploads, listings and
    annotation posts all succeed, each upload after exactly one retry."""
    src = tmp_path / "f.txt"
    src.write_bytes(b"payload")
    errors_before = client.pacer.stats().server_errors
    gate.set_faults(FaultSettings(fail_first=1))
    limit = anyio.Semaphore(16)
    ids: list[str] = []

    async def one(n: int) -> None:
        async with limit:
            ids.append((await client.upload(dataset["id"], src, f"/f/{n:03d}.txt")).item["id"])

    async with anyio.create_task_group() as tg:
        for n in range(200):
            tg.start_soon(one, n)
    for item_id in ids[:20]:
        posted = await client.post_annotations_exactly_once(
            dataset["id"], item_id, [box("a", 1), box("b", 2)])
        assert sorted(a["label"] for a in posted) == ["a", "b"]
    listed = [i["id"] async for i in client.iter_items(dataset["id"])]
    gate.set_faults(FaultSettings())
    assert sorted(listed) == sorted(ids)
    assert client.pacer.stats().server_errors - errors_before >= len(ids) == 200


async def test_plain_post_after_drop_is_ambiguous_not_resent(
        gate: Any, client: DataloopClient, dataset: DatasetJson, tmp_path: Path) -> None:
    """A dropped annotation post raises AmbiguousWriteError and is sent only once."""
    item = await put(client, dataset, tmp_path, "/amb.jpg")
    gate.set_faults(FaultSettings(drop_rate=1.0, drop_after_share=1.0, seed=1,
                                  routes=(ANNOTATION_ROUTE,)))
    gate.reset_stats()
    with pytest.raises(AmbiguousWriteError, match=item["id"]):
        await client.post_annotations(item["id"], [box("a", 1)])
    gate.set_faults(FaultSettings())
    assert gate.stats()["total"] == 1
    listed = [a async for a in client.iter_annotations(dataset["id"], item["id"])]
    assert len(listed) == 1  # the drop came after the gate applied it


async def test_drop_after_apply_leaves_exactly_the_intended_annotations(
        gate: Any, client: DataloopClient, dataset: DatasetJson, tmp_path: Path) -> None:
    """With half of the annotation posts dropped after being applied, no annotation lands twice."""
    items = [await put(client, dataset, tmp_path, f"/ex/{n}.jpg") for n in range(10)]
    wanted: dict[str, list[AnnotationJson]] = {
        i["id"]: [box("cat", 1), box("dog", 2), box("cat", 1)] + [box("x", k) for k in range(150)]
        for i in items}
    gate.set_faults(FaultSettings(drop_rate=0.5, drop_after_share=1.0, seed=5,
                                  routes=(ANNOTATION_ROUTE,)))
    for item_id, anns in wanted.items():
        posted = await client.post_annotations_exactly_once(dataset["id"], item_id, anns)
        assert len(posted) == len(anns)
    gate.set_faults(FaultSettings())
    for item_id, anns in wanted.items():
        listed = [a async for a in client.iter_annotations(dataset["id"], item_id)]
        assert sorted((a["label"], a["coordinates"][0]["x"]) for a in listed) == sorted(
            (a["label"], a["coordinates"][0]["x"]) for a in anns)
        assert all(stamp_key(a) is not None for a in listed)
    assert client.pacer.stats().transport_errors > 0


async def test_upload_size_mismatch_is_an_integrity_error(
        client: DataloopClient, gate: Any, dataset: DatasetJson, tmp_path: Path) -> None:
    """A stored item whose size is not what was sent raises TruncatedUploadError naming both
    sizes and the item; mode=skip finding an item of another size returns that item for the
    caller to compare (it is not a truncation)."""
    local = tmp_path / "s.bin"
    local.write_bytes(b"12345")
    await client.upload(dataset["id"], local, "/s.bin")
    local.write_bytes(b"1234567890")
    skipped = await client.upload(dataset["id"], local, "/s.bin")
    assert skipped.op is UploadOp.EXISTING and skipped.item["metadata"]["system"]["size"] == 5
    gate.set_faults(FaultSettings(truncate_uploads=True))
    with pytest.raises(TruncatedUploadError, match=r"sent 10 bytes .* size 9") as raised:
        await client.upload(dataset["id"], local, "/s.bin", mode="overwrite")
    gate.set_faults(FaultSettings())
    assert raised.value.item_id == skipped.item["id"]


async def test_read_timeout_on_annotation_post_is_ambiguous(
        gate: Any, dataset: DatasetJson, tmp_path: Path) -> None:
    """A reply slower than the stall timeout makes an annotation post ambiguous, not re-sent."""
    creds = Credentials(gate.mint_token(email=EMAIL, ttl=3600))
    async with DataloopClient(settings_for(gate, stall_timeout=0.2), creds) as slow:
        item = await put(slow, dataset, tmp_path, "/slow.jpg")
        gate.set_faults(FaultSettings(latency_ms=1000, routes=(ANNOTATION_ROUTE,)))
        before = slow.pacer.stats().attempts
        with pytest.raises(AmbiguousWriteError, match="may have been applied"):
            await slow.post_annotations(item["id"], [box("a", 1)])
        gate.set_faults(FaultSettings())
        assert slow.pacer.stats().attempts - before == 1
