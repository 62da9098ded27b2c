"""``dlsync status`` and the metrics show the pair's items per task status, from state."""

from __future__ import annotations

import json

from dlsync.metrics import Metrics
from dlsync.status import task_items
from tests.dtlpy.sdk import DTLPY_MARKS
from tests.labeling.conftest import Labeling, write_image

pytestmark = DTLPY_MARKS


def test_status_shows_items_per_task_status_as_of_the_last_sync(labeling: Labeling) -> None:
    """One item marked completed through dtlpy: the next mirror's listing records 1 completed
    and 2 open; status shows it (text and --json) without calling the platform, and so does
    the dlsync_task_items gauge."""
    for n in range(3):
        write_image(labeling.source, f"{n}.jpg")
    assert labeling.mirror("--task", labeling.task("census")).code == 0
    dataset = labeling.dataset()
    task = dataset.tasks.get(task_name=labeling.task("census"))
    dataset.items.get(filepath="/0.jpg").update_status(status="completed", task_id=task.id)
    assert labeling.mirror("--task", labeling.task("census")).code == 0
    labeling.gate.reset_stats()
    document = json.loads(labeling.run(["status", "--json", "--state",
                                         str(labeling.state)]).out)
    (pair,) = document["pairs"]
    assert pair["task"]["name"] == labeling.task("census")
    assert pair["task"]["statuses"] == {"completed": 1, "open": 2}
    assert pair["task"]["as_of"] is not None
    text = labeling.run(["status", "--state", str(labeling.state)]).out
    assert f"{labeling.task('census')}: 1 completed, 2 open (as of " in text
    assert labeling.gate.stats()["by_route"] == {}
    metrics = Metrics()
    metrics.bind_task_census(lambda: task_items(labeling.state))
    metrics.refresh()
    exposition = metrics.exposition().decode()
    assert f'dlsync_task_items{{pair="{pair["name"]}",status="completed"}} 1.0' in exposition
