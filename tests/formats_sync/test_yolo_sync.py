"""YOLO label files mirrored to the platform and pulled back (docs/formats.md)."""

from __future__ import annotations

from tests.formats_sync.conftest import Dataset, MirrorRun, PullRun, Remote
from tests.mirror.conftest import writes

YOLO = ("--annotation-format", "yolo")


def _flags(dataset: Dataset) -> tuple[str, ...]:
    return (*YOLO, "--annotations", str(dataset.labels))


async def test_boxes_and_polygons_reach_the_platform(dataset: Dataset, mirror: MirrorRun,
                                                     remote: Remote) -> None:
    """Each line becomes one annotation at the file's pixel geometry; a rerun posts nothing."""
    (dataset.labels / "classes.txt").write_text("cat\ndog\n")
    dataset.write("a/wide.png", ".txt", "0 0.5 0.5 0.25 0.5\n1 0.1 0.1 0.2 0.1 0.2 0.3\n")
    dataset.write("b/rotated.jpg", ".txt", "1 0.5 0.25 0.5 0.5\n")
    dataset.write("a/tall.jpg", ".txt", "")
    outcome = await mirror(*_flags(dataset), "--create")
    assert outcome.code == 0, outcome
    items = await remote.items()
    wide = await remote.annotations(items["/a/wide.png"]["id"])
    by_type = {a["type"]: a for a in wide}
    assert by_type["box"]["label"] == "cat"
    corners = [(p["x"], p["y"]) for p in by_type["box"]["coordinates"]]
    assert corners == [(240.0, 120.0), (400.0, 360.0)]
    assert by_type["segment"]["label"] == "dog"
    rotated = await remote.annotations(items["/b/rotated.jpg"]["id"])
    assert [(p["x"], p["y"]) for p in rotated[0]["coordinates"]] == [(50.0, 0.0), (150.0, 200.0)]
    assert await remote.annotations(items["/a/tall.jpg"]["id"]) == []
    before = writes(remote.gate.stats())
    again = await mirror(*_flags(dataset))
    assert again.code == 0, again
    assert writes(remote.gate.stats()) == before
