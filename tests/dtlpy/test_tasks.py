"""dtlpy creates, lists, changes and deletes tasks, moves items in and out, and sets statuses."""

from __future__ import annotations

import datetime
from types import ModuleType
from typing import Any

import pytest

from tests.dtlpy.samples import SampleTree
from tests.dtlpy.sdk import DTLPY_MARKS, EMAIL, all_items, upload_tree

pytestmark = DTLPY_MARKS

ANNOTATORS = ["ann1@dlsync.test", "ann2@dlsync.test"]
DUE = datetime.datetime(2030, 1, 1).timestamp()


@pytest.fixture
def items(dataset: Any, sample_tree: SampleTree) -> list[Any]:
    """The sample tree uploaded under /t of a fresh dataset, oldest first."""
    return sorted(upload_tree(dataset, sample_tree, "/t"), key=lambda item: item.id)


def make_task(dataset: Any, name: str, items: list[Any], **extra: Any) -> Any:
    """A task over ``items`` assigned to both annotators."""
    return dataset.tasks.create(task_name=name, due_date=DUE, assignee_ids=ANNOTATORS,
                                items=items, **extra)


def ids(found: Any) -> set[str]:
    """The ids of every item a dtlpy listing or list holds."""
    listed = found.all() if hasattr(found, "all") else found
    return {item.id for item in listed}


def status_filter(dl: ModuleType, task: Any, status: str) -> Any:
    """Items whose ref to ``task`` carries ``status`` ($match on metadata.system.refs)."""
    filters = dl.Filters()
    filters.add(field="metadata.system.refs", operator=dl.FiltersOperations.MATCH,
                values={"id": task.id, "type": "task", "metadata": {"status": status}})
    return filters


def test_create_from_items_distributes_them_to_assignments(dataset: Any,
                                                           items: list[Any]) -> None:
    """tasks.create(items=...) returns the task; its items are split between two assignments."""
    task = make_task(dataset, "split", items[:6])
    assert (task.name, task.dataset_id, task.project_id) == ("split", dataset.id,
                                                             dataset.project.id)
    assert task.recipe_id == dataset.get_recipe_ids()[0]
    assert ids(task.get_items()) == {item.id for item in items[:6]}
    assignments = task.assignments.list()
    assert sorted(a.annotator for a in assignments) == ANNOTATORS
    per_assignment = [ids(a.get_items()) for a in assignments]
    assert [len(found) for found in per_assignment] == [3, 3]
    assert per_assignment[0] | per_assignment[1] == {item.id for item in items[:6]}
    fetched = dataset.items.get(item_id=items[0].id)
    assert {ref["type"] for ref in fetched.metadata["system"]["refs"]} == {"task", "assignment"}


def test_create_from_a_filter_takes_the_matching_items(dl: ModuleType, dataset: Any,
                                                       items: list[Any]) -> None:
    """tasks.create(filters=...) takes exactly the items the DQL filter selects."""
    filters = dl.Filters(field="dir", values="/t/sub/deep")
    task = dataset.tasks.create(task_name="deep", due_date=DUE, assignee_ids=ANNOTATORS[:1],
                                filters=filters)
    in_task = ids(task.get_items())
    assert in_task == ids(all_items(dataset, filters)) and len(in_task) == 8


def test_list_get_by_name_update_and_delete(dl: ModuleType, dataset: Any,
                                            items: list[Any]) -> None:
    """Tasks are listed per dataset and by name, renamed by update, and gone after delete."""
    first = make_task(dataset, "first", items[:2])
    make_task(dataset, "second", items[2:4])
    assert {t.name for t in dataset.tasks.list()} == {"first", "second"}
    assert dataset.tasks.get(task_name="second").name == "second"
    assert [t.id for t in dataset.tasks.list(task_name="first")] == [first.id]
    first.name = "renamed"
    assert first.update().name == "renamed"
    assert dataset.tasks.get(task_id=first.id).name == "renamed"
    assert first.delete() is True
    with pytest.raises(dl.exceptions.NotFound):
        dataset.tasks.get(task_id=first.id)
    assert all(not item.metadata["system"].get("refs")
               for item in (dataset.items.get(item_id=i.id) for i in items[:2]))


def test_add_and_remove_items(dataset: Any, items: list[Any]) -> None:
    """add_items puts more items in; remove_items takes out those without a status."""
    task = make_task(dataset, "grow", items[:2])
    task.add_items(items=items[2:5])
    assert ids(task.get_items()) == {item.id for item in items[:5]}
    items[0].update_status(status="completed", task_id=task.id)
    assert task.remove_items(items=items[:3]) is True
    assert ids(task.get_items()) == {item.id for item in [items[0], *items[3:5]]}


def test_status_is_set_filtered_and_cleared(dl: ModuleType, dataset: Any,
                                            items: list[Any]) -> None:
    """update_status writes the status on the item's task ref; $match finds it; clear drops it."""
    task = make_task(dataset, "review", items[:4])
    items[0].update_status(status="completed", task_id=task.id)
    items[1].update_status(status="discard", task_id=task.id)
    fetched = dataset.items.get(item_id=items[0].id)
    assert fetched.status(task_id=task.id) == "completed"
    ref = next(r for r in fetched.metadata["system"]["refs"] if r["id"] == task.id)
    assert ref["metadata"]["creator"] == EMAIL
    assert ids(all_items(dataset, status_filter(dl, task, "completed"))) == {items[0].id}
    assert ids(task.get_items(filters=status_filter(dl, task, "discard"))) == {items[1].id}
    items[0].update_status(status="completed", task_id=task.id, clear=True)
    assert dataset.items.get(item_id=items[0].id).status(task_id=task.id) is None
    assert ids(all_items(dataset, status_filter(dl, task, "completed"))) == set()
    assert dataset.tasks.get(task_id=task.id).progress == 25


def test_status_through_the_items_assignment(dataset: Any, items: list[Any]) -> None:
    """item.update_status without ids goes through the item's assignment and marks both refs."""
    task = make_task(dataset, "by-assignment", items[:2])
    item = dataset.items.get(item_id=items[0].id)
    item.update_status(status="completed")
    fetched = dataset.items.get(item_id=item.id)
    assert {r["type"]: r["metadata"]["status"] for r in fetched.metadata["system"]["refs"]} == {
        "task": "completed", "assignment": "completed"}
    assert fetched.status(task_id=task.id) == "completed"


def test_status_the_task_does_not_offer_is_refused(dl: ModuleType, dataset: Any,
                                                   items: list[Any]) -> None:
    """An annotation task offers completed and discard; 'approved' is a 400 naming them."""
    task = make_task(dataset, "strict", items[:1])
    with pytest.raises(dl.exceptions.BadRequest, match="completed"):
        task.set_status(status="approved", operation="create", item_ids=[items[0].id])


def test_invalid_assignee_is_refused(dl: ModuleType, dataset: Any, items: list[Any]) -> None:
    """An assignee that is not an e-mail address is a 400 naming it; no task is created."""
    with pytest.raises(dl.exceptions.BadRequest, match="not-an-email"):
        dataset.tasks.create(task_name="bad", due_date=DUE, assignee_ids=["not-an-email"],
                             items=items[:1])
    assert list(dataset.tasks.list()) == []


def test_qa_task_takes_the_items_with_a_status(dataset: Any, items: list[Any]) -> None:
    """create_qa_task reviews the parent's items that have a status, and offers 'approved'."""
    task = make_task(dataset, "labelling", items[:4])
    items[0].update_status(status="completed", task_id=task.id)
    items[2].update_status(status="discard", task_id=task.id)
    qa = task.create_qa_task(due_date=DUE, assignee_ids=ANNOTATORS[:1])
    assert (qa.name, qa.spec["type"], qa.spec["parentTaskId"]) == ("labelling_qa", "qa", task.id)
    assert ids(qa.get_items()) == {items[0].id, items[2].id}
    items[0].update_status(status="approved", task_id=qa.id)
    assert dataset.items.get(item_id=items[0].id).status(task_id=qa.id) == "approved"
    assert dataset.items.get(item_id=items[0].id).status(task_id=task.id) == "completed"
