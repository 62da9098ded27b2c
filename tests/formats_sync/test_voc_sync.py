"""Pascal VOC files mirrored to the platform and pulled back (docs/formats.md)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.formats_sync.conftest import Dataset, MirrorRun, PullRun, Remote
from tests.mirror.conftest import writes


def _flags(dataset: Dataset) -> tuple[str, ...]:
    return ("--annotation-format", "voc", "--annotations", str(dataset.labels))


def _voc(*objects: tuple[str, int, int, int, int, bool]) -> str:
    body = "".join(
        f"<object><name>{name}</name><difficult>{int(hard)}</difficult><bndbox>"
        f"<xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"
        for name, x1, y1, x2, y2, hard in objects)
    return f"<annotation><filename>x.jpg</filename>{body}</annotation>"


def _boxes(text: str) -> list[tuple[str, list[int]]]:
    root = ET.fromstring(text)
    return [(str(o.findtext("name")),
             [int(str(o.findtext(f"bndbox/{e}"))) for e in ("xmin", "ymin", "xmax", "ymax")])
            for o in root.iter("object")]


async def test_boxes_round_trip_with_an_annotators_edit(
        dataset: Dataset, mirror: MirrorRun, pull: PullRun, remote: Remote) -> None:
    """Boxes land at the file's pixels (rotated image in its displayed frame); an edit made on
    the platform comes back with ``size`` filled from the image; the attribute and the note
    an annotator added survive a pull then a mirror, which writes nothing."""
    dataset.write("a/tall.jpg", ".xml", _voc(("cat", 10, 20, 110, 220, True),
                                             ("dog", 0, 0, 300, 500, False)))
    dataset.write("b/rotated.jpg", ".xml", _voc(("cat", 0, 300, 200, 400, False)))
    assert (await mirror(*_flags(dataset), "--create")).code == 0
    items = await remote.items()
    tall = items["/a/tall.jpg"]["id"]
    notes = {str(a["label"]): a for a in await remote.annotations(tall)}
    assert [(p["x"], p["y"]) for p in notes["cat"]["coordinates"]] == [(10, 20), (110, 220)]
    assert notes["cat"]["metadata"]["system"]["attributes"] == {"difficult": True}
    rotated = (await remote.annotations(items["/b/rotated.jpg"]["id"]))[0]
    assert [(p["x"], p["y"]) for p in rotated["coordinates"]] == [(0, 300), (200, 400)]
    await remote.edit_annotation(str(notes["dog"]["id"]), {"coordinates": [
        {"x": 5, "y": 6, "z": 0}, {"x": 50.4, "y": 60.6, "z": 0}]})
    await remote.edit_annotation(str(notes["cat"]["id"]), {"metadata": {"system": {
        "attributes": {"difficult": True, "colour": "black"}}}})
    note = await remote.annotate(tall, "blurry")
    assert (await pull(*_flags(dataset))).code == 0
    text = dataset.read("a/tall.jpg", ".xml")
    assert _boxes(text) == [("cat", [10, 20, 110, 220]), ("dog", [5, 6, 50, 61])]
    size = ET.fromstring(text).find("size")
    assert size is not None and (size.findtext("width"), size.findtext("height")) == (
        "300", "500")
    before = writes(remote.gate.stats())
    assert (await mirror(*_flags(dataset))).code == 0
    assert writes(remote.gate.stats()) == before
    after = {str(a["id"]): a for a in await remote.annotations(tall)}
    assert note in after
    assert after[str(notes["cat"]["id"])]["metadata"]["system"]["attributes"]["colour"] == \
        "black"


async def test_a_bad_element_fails_its_item_alone(dataset: Dataset, mirror: MirrorRun,
                                                  remote: Remote) -> None:
    """A non-numeric edge names the file and the element; the other items sync."""
    dataset.write("a/wide.png", ".xml", _voc(("cat", 1, 2, 3, 4, False)).replace(
        "<xmax>3</xmax>", "<xmax>three</xmax>"))
    dataset.write("a/tall.jpg", ".xml", _voc(("cat", 1, 2, 3, 4, False)))
    outcome = await mirror(*_flags(dataset), "--create")
    assert outcome.code == 1
    assert "object[1]/bndbox/xmax" in outcome.out + outcome.err
    items = await remote.items()
    assert len(await remote.annotations(items["/a/tall.jpg"]["id"])) == 1
