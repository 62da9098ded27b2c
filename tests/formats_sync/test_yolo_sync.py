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


async def test_an_annotators_edit_comes_back_and_nothing_else_changes(
        dataset: Dataset, mirror: MirrorRun, pull: PullRun, remote: Remote) -> None:
    """A box moved on the platform is rewritten in its line; the other line, the attribute
    and the note an annotator added survive a pull then a mirror; that mirror writes nothing."""
    (dataset.labels / "classes.txt").write_text("cat\ndog\n")
    dataset.write("a/wide.png", ".txt", "0 0.500000 0.500000 0.250000 0.500000\n"
                                        "1 0.250000 0.250000 0.100000 0.100000\n")
    assert (await mirror(*_flags(dataset), "--create")).code == 0
    item = (await remote.items())["/a/wide.png"]["id"]
    cat, dog = sorted(await remote.annotations(item), key=lambda a: str(a["label"]))
    await remote.edit_annotation(str(cat["id"]), {"coordinates": [
        {"x": 320, "y": 240, "z": 0}, {"x": 480, "y": 480, "z": 0}]})
    await remote.edit_annotation(str(dog["id"]), {
        "metadata": {"system": {"attributes": {"pose": "sitting"}}}})
    note = await remote.annotate(item, "bird")       # a class annotation: YOLO cannot say it
    assert (await pull(*_flags(dataset))).code == 0
    assert dataset.read("a/wide.png", ".txt") == ("0 0.625000 0.750000 0.250000 0.500000\n"
                                                  "1 0.250000 0.250000 0.100000 0.100000\n")
    assert (dataset.labels / "classes.txt").read_text() == "cat\ndog\n"
    before = writes(remote.gate.stats())
    outcome = await mirror(*_flags(dataset))
    assert outcome.code == 0, outcome
    assert writes(remote.gate.stats()) == before
    after = {str(a["id"]): a for a in await remote.annotations(item)}
    assert note in after
    assert after[str(dog["id"])]["metadata"]["system"]["attributes"] == {"pose": "sitting"}


async def test_a_new_label_is_appended_to_the_classes_file(
        dataset: Dataset, mirror: MirrorRun, pull: PullRun, remote: Remote) -> None:
    """A box with a label the classes file lacks is pulled with the next class id."""
    (dataset.labels / "classes.txt").write_text("cat\n")
    dataset.write("a/wide.png", ".txt", "0 0.500000 0.500000 0.250000 0.500000\n")
    assert (await mirror(*_flags(dataset), "--create")).code == 0
    item = (await remote.items())["/a/wide.png"]["id"]
    box = {"type": "box", "label": "fox", "coordinates": [{"x": 0, "y": 0, "z": 0},
                                                          {"x": 64, "y": 48, "z": 0}]}
    await remote.client.post_annotations(item, [box])  # type: ignore[list-item]
    assert (await pull(*_flags(dataset))).code == 0
    assert (dataset.labels / "classes.txt").read_text() == "cat\nfox\n"
    assert "1 0.050000 0.050000 0.100000 0.100000\n" in dataset.read("a/wide.png", ".txt")
    before = writes(remote.gate.stats())
    assert (await mirror(*_flags(dataset))).code == 0
    assert writes(remote.gate.stats()) == before


async def test_sidecar_with_yolo_is_a_usage_error(dataset: Dataset, mirror: MirrorRun) -> None:
    """YOLO files live in a folder; ``sidecar`` is Dataloop JSON (exit 2, the key named)."""
    outcome = await mirror(*YOLO, "--annotations", "sidecar")
    assert outcome.code == 2
    assert "annotation_format" in outcome.err


async def test_a_bad_line_fails_its_item_alone(dataset: Dataset, mirror: MirrorRun,
                                               remote: Remote) -> None:
    """A malformed line names the file and line; the other items sync."""
    (dataset.labels / "classes.txt").write_text("cat\n")
    dataset.write("a/wide.png", ".txt", "0 0.5 0.5 0.25\n")
    dataset.write("a/tall.jpg", ".txt", "0 0.5 0.5 0.25 0.25\n")
    outcome = await mirror(*_flags(dataset), "--create", "--json")
    assert outcome.code == 1
    assert "wide.txt:1" in outcome.out + outcome.err
    items = await remote.items()
    assert len(await remote.annotations(items["/a/tall.jpg"]["id"])) == 1


async def test_a_vanished_label_file_is_a_guarded_removal(
        dataset: Dataset, mirror: MirrorRun, remote: Remote) -> None:
    """A tracked ``.txt`` that is gone keeps its boxes while deletes are off, and with
    ``--delete`` removes only dlsync's own (an annotator's classification stays)."""
    (dataset.labels / "classes.txt").write_text("cat\n")
    dataset.write("a/wide.png", ".txt", "0 0.5 0.5 0.25 0.5\n")
    assert (await mirror(*_flags(dataset), "--create")).code == 0
    item = (await remote.items())["/a/wide.png"]["id"]
    kept = await remote.annotate(item, "blurry")
    dataset.label("a/wide.png", ".txt").unlink()
    assert (await mirror(*_flags(dataset))).code == 0
    assert len(await remote.annotations(item)) == 2
    assert (await mirror(*_flags(dataset), "--delete")).code == 0
    assert [str(a["id"]) for a in await remote.annotations(item)] == [kept]


async def test_classes_without_yolo_is_a_config_error(dataset: Dataset,
                                                      mirror: MirrorRun) -> None:
    """``--classes`` names a YOLO classes file; with Dataloop JSON it is refused (exit 2)."""
    outcome = await mirror("--classes", str(dataset.labels / "classes.txt"))
    assert outcome.code == 2
    assert "classes" in outcome.err


async def test_a_missing_classes_file_is_a_config_error(dataset: Dataset,
                                                        mirror: MirrorRun) -> None:
    """No classes file in the places tried stops the mirror (exit 2), naming them."""
    outcome = await mirror("--annotation-format", "yolo", "--annotations", str(dataset.labels))
    assert outcome.code == 2
    assert "classes.txt" in outcome.err
