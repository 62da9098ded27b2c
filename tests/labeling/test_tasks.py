"""Items dlsync uploads or adopts join the pair's task: created when missing, each item once."""

from __future__ import annotations

import json
from typing import Any

from tests.dtlpy.sdk import DTLPY_MARKS, EMAIL
from tests.labeling.conftest import Labeling, write_image
from tests.mirror.conftest import writes

pytestmark = DTLPY_MARKS

ANNOTATORS = ("ann1@dlsync.test", "ann2@dlsync.test")


def task_items(dataset: Any, name: str) -> dict[str, str]:
    """filename → item id of every item in the dataset's task ``name``."""
    task = dataset.tasks.get(task_name=name)
    return {item.filename: item.id for item in task.get_items().all()}


def test_task_is_created_with_its_assignees_and_holds_the_uploaded_items(
        labeling: Labeling) -> None:
    """A first mirror with --task creates the task (two assignees, a week's due date) holding
    exactly the uploaded items; a rerun adds nothing and writes nothing."""
    for n in range(6):
        write_image(labeling.source, f"f/{n}.jpg", ["car"])
    name = labeling.task("review")
    flags = ["--task", name, "--task-assignee", ANNOTATORS[0], "--task-assignee", ANNOTATORS[1]]
    outcome = labeling.mirror(*flags)
    assert outcome.code == 0, outcome
    dataset = labeling.dataset()
    assert set(task_items(dataset, name)) == {f"/f/{n}.jpg" for n in range(6)}
    task = dataset.tasks.get(task_name=name)
    assert sorted(a.annotator for a in task.assignments.list()) == list(ANNOTATORS)
    labeling.gate.reset_stats()
    assert labeling.mirror(*flags).code == 0
    assert writes(labeling.gate.stats()) == {}


def test_default_assignee_is_the_token_user_and_later_items_join(labeling: Labeling) -> None:
    """Without assignees the token's user gets the task; items uploaded later join it, items
    synced before the task was set join only with --task-backfill; a moved item stays."""
    name = labeling.task("t")
    write_image(labeling.source, "old.jpg")
    assert labeling.mirror().code == 0
    write_image(labeling.source, "new.jpg")
    assert labeling.mirror("--task", name).code == 0
    dataset = labeling.dataset()
    assert set(task_items(dataset, name)) == {"/new.jpg"}
    assert [a.annotator for a in dataset.tasks.get(task_name=name).assignments.list()] == [EMAIL]
    assert labeling.mirror("--task", name, "--task-backfill").code == 0
    ids = task_items(labeling.dataset(), name)
    assert set(ids) == {"/new.jpg", "/old.jpg"}
    (labeling.source / "new.jpg").rename(labeling.source / "moved.jpg")
    assert labeling.mirror("--task", name).code == 0
    assert task_items(labeling.dataset(), name) == {"/old.jpg": ids["/old.jpg"],
                                                    "/moved.jpg": ids["/new.jpg"]}


def test_a_task_name_of_another_dataset_is_a_usage_error(labeling: Labeling) -> None:
    """A task name already used by another dataset of the project: exit 2, nothing uploaded."""
    other = labeling.project.datasets.create(dataset_name=labeling.dataset_name + "-other")
    other.tasks.create(task_name="taken-" + labeling.dataset_name, assignee_ids=[EMAIL],
                       items=[])
    write_image(labeling.source, "a.jpg")
    outcome = labeling.mirror("--task", "taken-" + labeling.dataset_name)
    assert outcome.code == 2
    assert "already exists in another dataset" in outcome.err
    assert list(labeling.dataset().items.list().all()) == []


def test_an_assignee_the_platform_rejects_fails_the_task_not_the_uploads(
        labeling: Labeling) -> None:
    """The platform refuses the assignee: exit 1 saying tasks were not updated, every item is
    uploaded; with a valid assignee the next run creates the task with the queued items."""
    for n in range(3):
        write_image(labeling.source, f"{n}.jpg")
    name = labeling.task("r")
    outcome = labeling.mirror("--task", name, "--task-assignee", "someone@localhost")
    assert outcome.code == 1
    assert "tasks were not updated" in outcome.out
    dataset = labeling.dataset()
    assert len(list(dataset.items.list().all())) == 3
    assert labeling.mirror("--task", name).code == 0
    assert set(task_items(labeling.dataset(), name)) == {f"/{n}.jpg" for n in range(3)}


def test_dry_run_shows_what_the_task_would_gain_and_writes_nothing(
        labeling: Labeling) -> None:
    """``+ task NAME: N items added`` in the dry run and in --json: the plan's uploads, and the
    items an earlier run queued but the platform refused; neither dry run writes anything."""
    for n in range(3):
        write_image(labeling.source, f"{n}.jpg")
    name = labeling.task("preview")
    assert labeling.mirror("--dry-run").code == 0          # creates the dataset only
    labeling.gate.reset_stats()
    text = labeling.mirror("--task", name, "--dry-run")
    assert text.code == 0
    assert f"+ task {name}: 3 items added  (task created with them; 3 of this plan)" in text.out
    assert "task items added" in text.out
    assert writes(labeling.gate.stats()) == {}
    refused = labeling.mirror("--task", name, "--task-assignee", "someone@localhost")
    assert refused.code == 1                               # uploaded, the task refused
    write_image(labeling.source, "late.jpg")
    labeling.gate.reset_stats()
    document = json.loads(labeling.mirror("--task", name, "--dry-run", "--json").out)
    line = next(a for a in document["actions"] if a["kind"] == "task")
    assert line == {"kind": "task", "name": name, "items": 4, "created": True, "planned": 1,
                    "queued": 3, "backfill": 0}
    assert document["summary"]["task_items_added"] == 4
    assert writes(labeling.gate.stats()) == {}
