"""``dlsync pull --status``: only reviewed items' annotations come down; status changes are
noticed by the next incremental pull."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.dtlpy.sdk import DTLPY_MARKS, EMAIL
from tests.labeling.conftest import Labeling, write_image
from tests.mirror.conftest import writes

pytestmark = DTLPY_MARKS


def labels_in(annotation_file: Path) -> list[str]:
    document = json.loads(annotation_file.read_text(encoding="utf-8"))
    return sorted(a["label"] for a in document["annotations"])


def annotate(dataset: Any, filename: str, label: str) -> Any:
    """An annotator's class annotation on the item; the item."""
    item = dataset.items.get(filepath=filename)
    item.annotations.upload([{"type": "class", "label": label, "coordinates": []}])
    return item


def test_only_completed_items_are_pulled_and_a_later_completion_is_noticed(
        labeling: Labeling) -> None:
    """Both items get a platform annotation; only the one marked completed is written by
    ``pull --status completed``; once the other is completed, the incremental pull writes it
    too. Without --status the pull writes every item as before."""
    write_image(labeling.source, "done.jpg", ["car"])
    write_image(labeling.source, "open.jpg", ["car"])
    assert labeling.mirror("--task", labeling.task("review")).code == 0
    dataset = labeling.dataset()
    task = dataset.tasks.get(task_name=labeling.task("review"))
    done = annotate(dataset, "/done.jpg", "dog")
    still_open = annotate(dataset, "/open.jpg", "cat")
    done.update_status(status="completed", task_id=task.id)
    first = labeling.pull("--status", "completed")
    assert first.code == 0, first
    assert labels_in(labeling.source / "done.jpg.json") == ["car", "dog"]
    assert labels_in(labeling.source / "open.jpg.json") == ["car"]
    still_open.update_status(status="completed", task_id=task.id)
    second = labeling.pull("--status", "completed", "--json")
    assert second.code == 0 and json.loads(second.out)["full"] is False
    assert labels_in(labeling.source / "open.jpg.json") == ["car", "cat"]


def test_without_status_every_item_is_pulled_and_a_mirror_after_writes_nothing(
        labeling: Labeling) -> None:
    """No --status: the platform annotation comes down whatever the task says; the labels it
    names are not ensured: the next mirror writes nothing."""
    write_image(labeling.source, "a.jpg", ["car"])
    assert labeling.mirror("--task", labeling.task("t")).code == 0
    annotate(labeling.dataset(), "/a.jpg", "zebra")
    assert labeling.pull().code == 0
    assert labels_in(labeling.source / "a.jpg.json") == ["car", "zebra"]
    labeling.gate.reset_stats()
    assert labeling.mirror("--task", labeling.task("t")).code == 0
    assert writes(labeling.gate.stats()) == {}
    assert "zebra" not in labeling.dataset().labels_flat_dict


def test_approved_in_a_qa_task_of_the_pairs_task_is_pulled(labeling: Labeling) -> None:
    """With the pair's task named, ``approved`` in a QA task made from it lets the item
    through; ``completed`` in an unrelated task of the dataset does not."""
    name = labeling.task("labeling")
    write_image(labeling.source, "approved.jpg", ["car"])
    write_image(labeling.source, "elsewhere.jpg", ["car"])
    assert labeling.mirror("--task", name).code == 0
    dataset = labeling.dataset()
    task = dataset.tasks.get(task_name=name)
    approved = annotate(dataset, "/approved.jpg", "dog")
    elsewhere = annotate(dataset, "/elsewhere.jpg", "cat")
    qa = dataset.tasks.create(task_name=labeling.task("qa"), task_type="qa",
                              task_parent_id=task.id, assignee_ids=[EMAIL], items=[approved])
    approved.update_status(status="approved", task_id=qa.id)
    other = dataset.tasks.create(task_name=labeling.task("other"), assignee_ids=[EMAIL],
                                 items=[elsewhere])
    elsewhere.update_status(status="completed", task_id=other.id)
    outcome = labeling.pull("--task", name, "--status", "completed,approved")
    assert outcome.code == 0, outcome
    assert labels_in(labeling.source / "approved.jpg.json") == ["car", "dog"]
    assert labels_in(labeling.source / "elsewhere.jpg.json") == ["car"]
