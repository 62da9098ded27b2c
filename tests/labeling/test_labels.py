"""Labels used by local annotations are added to the dataset's ontology: only added, once."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dlsync.remote.client import DataloopClient
from tests.dtlpy.sdk import DTLPY_MARKS
from tests.labeling.conftest import Labeling, write_image
from tests.mirror.conftest import writes

pytestmark = DTLPY_MARKS


def label_paths(dataset: Any) -> set[str]:
    return set(dataset.labels_flat_dict)


def test_labels_used_locally_appear_in_the_dataset_once(labeling: Labeling) -> None:
    """Labels (nested ones as children) are in dataset.labels after a mirror, with the same
    colour every time; a second run writes nothing at all."""
    write_image(labeling.source, "a.jpg", ["car", "animal.dog"])
    write_image(labeling.source, "b/c.jpg", ["car", "person"])
    first = labeling.mirror()
    assert first.code == 0, first
    dataset = labeling.dataset()
    assert label_paths(dataset) == {"car", "animal", "animal.dog", "person"}
    animal = next(label for label in dataset.labels if label.tag == "animal")
    assert [child.tag for child in animal.children] == ["dog"]
    assert dataset.labels_flat_dict["car"].color.startswith("#")
    labeling.gate.reset_stats()
    again = labeling.mirror()
    assert again.code == 0 and writes(labeling.gate.stats()) == {}


def test_dry_run_lists_label_lines_and_writes_nothing(labeling: Labeling) -> None:
    """``+ label X`` lines in the dry run and in --json; the ontology stays as it was."""
    write_image(labeling.source, "a.jpg", ["car", "animal.dog"])
    assert labeling.mirror("--dry-run").code == 0  # creates the dataset only
    labeling.dataset().add_labels(label_list=["car"])
    text = labeling.mirror("--dry-run")
    assert "+ label animal  (missing from the dataset's ontology)" in text.out
    assert "+ label animal.dog" in text.out and "+ label car" not in text.out
    document = json.loads(labeling.mirror("--dry-run", "--json").out)
    found = [a["path"] for a in document["actions"] if a["kind"] == "label"]
    assert found == ["animal", "animal.dog"]
    assert document["summary"]["labels_added"] == 2
    assert label_paths(labeling.dataset()) == {"car"}


def test_labels_off_leaves_the_ontology_alone(labeling: Labeling) -> None:
    """``--labels off``: the annotations go up, the ontology is not written."""
    write_image(labeling.source, "a.jpg", ["car"])
    assert labeling.mirror("--labels", "off").code == 0
    assert labeling.dataset().labels == []


def test_a_label_added_meanwhile_survives(labeling: Labeling, dl: Any,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone adds a label (and recolours nothing) right before dlsync's write: theirs stays,
    with its colour, and dlsync's is added next to it."""
    write_image(labeling.source, "a.jpg", ["car"])
    assert labeling.mirror("--dry-run").code == 0
    original = DataloopClient.add_labels

    async def racing(self: DataloopClient, ontology_id: str, nodes: Any) -> Any:
        ontology = dl.ontologies.get(ontology_id=ontology_id)
        ontology.add_labels(label_list=[{"tag": "truck", "color": "#123456"}])
        return await original(self, ontology_id, nodes)

    monkeypatch.setattr(DataloopClient, "add_labels", racing)
    assert labeling.mirror().code == 0
    dataset = labeling.dataset()
    assert label_paths(dataset) == {"car", "truck"}
    assert dataset.labels_flat_dict["truck"].color == "#123456"


def test_a_label_the_ontology_refuses_is_named_and_the_rest_goes_up(
        labeling: Labeling) -> None:
    """A label with an empty path part is refused by the ontology: the run exits 1 naming it,
    the other labels are added and every annotation is posted."""
    write_image(labeling.source, "a.jpg", ["car", "bad..name"])
    outcome = labeling.mirror()
    assert outcome.code == 1
    assert "label bad..name" in outcome.out
    dataset = labeling.dataset()
    assert "car" in label_paths(dataset)
    item = dataset.items.get(filepath="/a.jpg")
    assert sorted(a.label for a in item.annotations.list()) == ["bad..name", "car"]
