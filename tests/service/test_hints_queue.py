"""From watcher paths to queued sync-root paths: ``sync_paths`` and the coalescing queue."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import anyio
import pytest

from dlsync.config.settings import PairConfig
from dlsync.local.layout import AnnotationLayout
from dlsync.service.hints import sync_paths
from dlsync.service.queue import CoalescingQueue

SOURCE = Path("/data/src")


def pair(layout: AnnotationLayout) -> PairConfig:
    return PairConfig(name="p", source=SOURCE, project="P", dataset="D", annotations=layout)


@pytest.mark.parametrize(("changed", "expected"), [
    (SOURCE / "a/b.jpg", ["a/b.jpg"]),
    (SOURCE / "top.jpg", ["top.jpg"]),
    (SOURCE, []),
    (Path("/data/srcother/x.jpg"), []),           # a sibling sharing the prefix is outside
    (Path("/elsewhere/x.jpg"), []),
    (SOURCE / unicodedata.normalize("NFD", "café.jpg"), ["café.jpg"]),
])
def test_plain_layout_paths(changed: Path, expected: list[str]) -> None:
    assert sync_paths(pair(AnnotationLayout.none()), changed) == expected


def test_a_sidecar_stands_for_its_item_too() -> None:
    assert sync_paths(pair(AnnotationLayout.sidecar()), SOURCE / "a/b.jpg.json") == \
        ["a/b.jpg.json", "a/b.jpg"]


def test_an_annotation_folder_file_stands_for_the_items_with_its_stem(tmp_path: Path) -> None:
    source, labels = tmp_path / "src", tmp_path / "labels"
    (source / "a").mkdir(parents=True)
    (source / "a/b.jpg").write_bytes(b"x")
    (source / "a/c.jpg").write_bytes(b"x")
    config = PairConfig(name="p", source=source, project="P", dataset="D",
                        annotations=AnnotationLayout.in_directory(labels))
    assert sync_paths(config, labels / "a/b.json") == ["a/b", "a/b.jpg"]


async def test_put_many_coalesces_and_keeps_arrival_order() -> None:
    queue: CoalescingQueue[str, int] = CoalescingQueue(10)
    await queue.put_many([("a", 1), ("b", 1), ("a", 2)])
    assert await queue.take(10) == [("a", 2), ("b", 1)]


async def test_put_many_waits_for_room_and_loses_nothing() -> None:
    queue: CoalescingQueue[str, int] = CoalescingQueue(2)
    keys = [f"k{n}" for n in range(7)]
    taken: list[str] = []

    async def taker() -> None:
        while len(taken) < len(keys):
            taken.extend(key for key, _ in await queue.take(1))
            assert queue.depth <= 2

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(taker)
            await queue.put_many((key, 0) for key in keys)
    assert taken == keys
