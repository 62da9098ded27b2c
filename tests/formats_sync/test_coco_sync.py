"""One COCO file for the whole source, mirrored to the platform and pulled back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.formats_sync.conftest import Dataset, MirrorRun, PullRun, Remote
from tests.mirror.conftest import writes


def _flags(coco: Path) -> tuple[str, ...]:
    return ("--annotation-format", "coco", "--annotations", str(coco))


def _coco() -> dict[str, Any]:
    return {
        "info": {"description": "pets"},
        "images": [{"id": 7, "file_name": "a/wide.png", "width": 640, "height": 480},
                   {"id": 9, "file_name": "b/rotated.jpg", "width": 200, "height": 400}],
        "categories": [{"id": 3, "name": "cat"}, {"id": 4, "name": "dog"}],
        "annotations": [
            {"id": 100, "image_id": 7, "category_id": 3, "bbox": [10, 20, 100, 50],
             "iscrowd": 0, "area": 5000, "score": 0.9},
            {"id": 101, "image_id": 7, "category_id": 4, "iscrowd": 0, "area": 1,
             "segmentation": [[0, 0, 64, 0, 64, 48]], "bbox": [0, 0, 64, 48]},
            {"id": 102, "image_id": 9, "category_id": 3, "bbox": [0, 300, 200, 100],
             "iscrowd": 0, "area": 20000}],
    }


async def test_coco_round_trip(dataset: Dataset, mirror: MirrorRun, pull: PullRun,
                               remote: Remote) -> None:
    """Entries land at the file's geometry; an edit on the platform comes back into its entry
    with ids kept and nothing else changed; a rerun writes nothing."""
    coco = dataset.labels / "pets.json"
    coco.write_text(json.dumps(_coco()))
    outcome = await mirror(*_flags(coco), "--create")
    assert outcome.code == 0, outcome
    items = await remote.items()
    wide = {str(a["label"]): a for a in await remote.annotations(items["/a/wide.png"]["id"])}
    assert [(p["x"], p["y"]) for p in wide["cat"]["coordinates"]] == [(10, 20), (110, 70)]
    assert wide["dog"]["type"] == "segment"
    assert await remote.annotations(items["/a/tall.jpg"]["id"]) == []
    before = writes(remote.gate.stats())
    assert (await mirror(*_flags(coco))).code == 0
    assert writes(remote.gate.stats()) == before

    rotated = (await remote.annotations(items["/b/rotated.jpg"]["id"]))[0]
    await remote.edit_annotation(str(rotated["id"]), {"coordinates": [
        {"x": 10, "y": 310, "z": 0}, {"x": 110, "y": 390.5, "z": 0}]})
    await remote.edit_annotation(str(wide["cat"]["id"]), {
        "metadata": {"system": {"attributes": {"colour": "black"}}}})
    note = await remote.annotate(items["/a/wide.png"]["id"], "blurry")
    assert (await pull(*_flags(coco))).code == 0
    document = json.loads(coco.read_text())
    by_id = {a["id"]: a for a in document["annotations"]}
    assert by_id[100] == _coco()["annotations"][0]           # kept verbatim, score and all
    assert by_id[101] == _coco()["annotations"][1]
    assert next(a for a in document["annotations"] if a["image_id"] == 9)["bbox"] == [
        10, 310, 100, 80.5]
    assert document["info"] == {"description": "pets"}
    assert [i["id"] for i in document["images"]] == [7, 9]
    before = writes(remote.gate.stats())
    outcome = await mirror(*_flags(coco))
    assert outcome.code == 0, outcome
    assert writes(remote.gate.stats()) == before
    after = {str(a["id"]): a for a in await remote.annotations(items["/a/wide.png"]["id"])}
    assert note in after
    assert after[str(wide["cat"]["id"])]["metadata"]["system"]["attributes"] == {
        "colour": "black"}


async def test_coco_needs_a_json_file(dataset: Dataset, mirror: MirrorRun) -> None:
    """``--annotations`` must name a .json file with ``coco`` (exit 2, the key named)."""
    outcome = await mirror("--annotation-format", "coco", "--annotations", str(dataset.labels))
    assert outcome.code == 2
    assert "annotations" in outcome.err and ".json" in outcome.err


async def test_a_conflict_writes_a_coco_file_of_just_that_image(
        dataset: Dataset, mirror: MirrorRun, pull: PullRun, remote: Remote) -> None:
    """Both sides changed one image: the file keeps the local entries and the platform's
    version lands in ``<file>.conflict-<UTC>.json``, a COCO file holding only that image."""
    coco = dataset.labels / "pets.json"
    coco.write_text(json.dumps(_coco()))
    assert (await mirror(*_flags(coco), "--create")).code == 0
    items = await remote.items()
    rotated = (await remote.annotations(items["/b/rotated.jpg"]["id"]))[0]
    await remote.edit_annotation(str(rotated["id"]), {"coordinates": [
        {"x": 1, "y": 301, "z": 0}, {"x": 101, "y": 399, "z": 0}]})
    local = _coco()
    local["annotations"][2]["bbox"] = [5, 305, 150, 90]
    coco.write_text(json.dumps(local))
    outcome = await pull(*_flags(coco))
    assert outcome.code == 1, outcome
    assert json.loads(coco.read_text()) == local
    (copy,) = dataset.labels.glob("pets.conflict-*.json")
    document = json.loads(copy.read_text())
    assert [i["file_name"] for i in document["images"]] == ["b/rotated.jpg"]
    assert [a["bbox"] for a in document["annotations"]] == [[1, 301, 100, 98]]

