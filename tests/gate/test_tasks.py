"""Tasks on the gate: refs on items, DQL over them ($match, array rules), refusals, updatedAt."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from dlsync.gate.behaviour import GateBehaviour
from dlsync.gate.server import GateOptions
from tests.conftest import GateFactory
from tests.gate.conftest import GateApi

OWNER = "owner@dlsync.test"
OLD = "2000-01-01T00:00:00.000Z"


async def new_task(api: GateApi, dataset_id: str, item_ids: list[str], **extra: Any) -> Any:
    """The id of a task over ``item_ids``, created as dtlpy sends it."""
    dataset = await api.ok("GET", f"/datasets/{dataset_id}")
    body = {"name": extra.pop("name", "t"), "datasetId": dataset_id,
            "projectId": dataset["projects"][0], "taskOwner": OWNER,
            "recipeId": dataset["metadata"]["system"]["recipes"][0],
            "query": json.dumps({"filter": {"$and": [{"id": {"$in": item_ids}}]}}),
            "spec": {"type": "annotation"}, "dueDate": 1.9e12, "asynced": True, **extra}
    command = await api.ok("POST", "/annotationtasks", json=body)
    assert command["status"] == "success"
    return command["spec"]["createdTaskId"]


async def set_status(api: GateApi, task_id: str, item_ids: list[str], status: str) -> Any:
    """The answer to a status change as dtlpy's task.set_status sends it."""
    return await api.ok("POST", f"/assignments/items/tasks/{task_id}/status", json={
        "itemIds": item_ids,
        "statusPayload": {"operation": "create", "returnLastStatus": True, "status": status}})


@pytest.fixture
async def labelled(api: GateApi, dataset_id: str) -> dict[str, Any]:
    """Five items: a..c in task one (a completed, b discarded), c and d in task two, e in none."""
    ids = {}
    for name in "abcde":
        ids[name] = (await api.upload(dataset_id, f"/l/{name}.jpg", name.encode()))[2]["id"]
    one = await new_task(api, dataset_id, [ids["a"], ids["b"], ids["c"]], name="one")
    two = await new_task(api, dataset_id, [ids["c"], ids["d"]], name="two")
    await set_status(api, one, [ids["a"]], "completed")
    await set_status(api, one, [ids["b"]], "discard")
    await set_status(api, two, [ids["d"]], "completed")
    return {"dataset": dataset_id, "one": one, "two": two, **ids}


ARRAY_CASES: list[tuple[str, Any, str]] = [
    ("element field $in", lambda t: {"metadata.system.refs.id": {"$in": [t["one"]]}}, "abc"),
    ("element field equality", lambda t: {"metadata.system.refs.id": t["two"]}, "cd"),
    ("$ne: no element equals", lambda t: {"metadata.system.refs.id": {"$ne": t["one"]}}, "de"),
    ("$nin", lambda t: {"metadata.system.refs.id": {"$nin": [t["one"], t["two"]]}}, "e"),
    ("empty array: in no task", lambda t: {"metadata.system.refs": []}, "e"),
    ("$match dotted", lambda t: {"metadata.system.refs": {"$match": {
        "id": t["one"], "metadata.status": "completed"}}}, "a"),
    ("$match nested with operator", lambda t: {"metadata.system.refs": {"$match": {
        "id": t["one"], "type": "task",
        "metadata": {"status": {"$in": ["completed", "discard"]}}}}}, "ab"),
    ("$match needs one element for all", lambda t: {"metadata.system.refs": {"$match": {
        "id": t["two"], "metadata": {"status": "discard"}}}}, ""),
    ("$match with $exists", lambda t: {"metadata.system.refs": {"$match": {
        "id": t["two"], "metadata": {"status": {"$exists": True}}}}}, "d"),
]


@pytest.mark.parametrize(("condition", "expected"), [c[1:] for c in ARRAY_CASES],
                         ids=[c[0] for c in ARRAY_CASES])
async def test_refs_filters_follow_array_rules(api: GateApi, labelled: dict[str, Any],
                                               condition: Any, expected: str) -> None:
    """Conditions on metadata.system.refs select by element, as MongoDB does."""
    found = await api.list_all(labelled["dataset"], [{"type": "file"}, condition(labelled)])
    assert {item["id"] for item in found} == {labelled[name] for name in expected}


@pytest.mark.parametrize("condition", [
    {"name": {"$match": {"a": 1}}},
    {"metadata.system.refs": {"$match": "x"}},
    {"metadata.system.refs": {"$match": {}}},
    {"metadata.system.refs": {"$match": {"id": "x"}, "$eq": 1}},
    {"metadata.system.refs.id": {"$match": {"id": "x"}}},
])
async def test_malformed_match_is_refused(api: GateApi, dataset_id: str,
                                          condition: dict[str, Any]) -> None:
    """$match on a non-array field, or without one object of conditions, is a 400."""
    status, body = await api.call("POST", f"/datasets/{dataset_id}/query",
                                  json={"filter": {"$and": [condition]}})
    assert status == 400 and "$match" in body["message"]


async def test_sort_by_an_array_is_refused(api: GateApi, dataset_id: str) -> None:
    """Sorting by metadata.system.refs is a 400 naming the field."""
    status, body = await api.call("POST", f"/datasets/{dataset_id}/query",
                                  json={"sort": {"metadata.system.refs": "ascending"}})
    assert status == 400 and "metadata.system.refs" in body["message"]


async def test_task_json_and_assignments(api: GateApi, labelled: dict[str, Any]) -> None:
    """A task counts its items and the share with a status; workload makes assignments."""
    task = await api.ok("GET", f"/annotationtasks/{labelled['one']}")
    assert (task["totalItems"], task["progress"], task["taskOwner"]) == (3, 67, OWNER)
    assert task["assignmentIds"] == [] and task["status"] == "open"
    shared = await new_task(api, labelled["dataset"], [labelled["e"]], name="w", workload=[
        {"assigneeId": "x@dlsync.test", "load": 50}, {"assigneeId": "y@dlsync.test", "load": 50}])
    listed = await api.ok("GET", f"/assignments?taskId={shared}")
    assert sorted(a["annotator"] for a in listed["items"]) == ["x@dlsync.test", "y@dlsync.test"]
    assert sorted(a["totalItems"] for a in listed["items"]) == [0, 1]


@pytest.mark.parametrize(("change", "words"), [
    ({"workload": [{"assigneeId": "a@dlsync.test", "load": 60}]}, "add up to 100"),
    ({"workload": [{"assigneeId": "nobody", "load": 100}]}, "nobody"),
    ({"workload": [{"assigneeId": "a@x.io", "load": 50}, {"assigneeId": "a@x.io", "load": 50}]},
     "twice"),
    ({"taskOwner": "owner"}, "taskOwner"),
    ({"metadata": {"system": {"allowedAssignees": ["not mail"]}}}, "not mail"),
    ({"query": "{not json"}, "query"),
    ({"spec": {"type": "review"}}, "type"),
    ({"spec": {"type": "qa"}}, "parentTaskId"),
    ({"name": ""}, "name"),
])
async def test_bad_task_bodies_are_refused(api: GateApi, dataset_id: str,
                                           change: dict[str, Any], words: str) -> None:
    """Each malformed create body is a 400 naming the problem; no task is stored."""
    with pytest.raises(AssertionError, match=words):
        await new_task(api, dataset_id, [], **change)
    listed = await api.ok("POST", "/annotationtasks/query", json={"filter": {}})
    assert listed["items"] == []


async def test_unknown_references_are_refused(api: GateApi, dataset_id: str) -> None:
    """An unknown recipe is 404; unknown tasks and assignments are 404; bad operations 400."""
    with pytest.raises(AssertionError, match="recipe not found"):
        await new_task(api, dataset_id, [], recipeId="0" * 24)
    for path in ("/annotationtasks/" + "0" * 24, "/assignments/" + "0" * 24):
        assert (await api.call("GET", path))[0] == 404
    task = await new_task(api, dataset_id, [])
    status, body = await api.call("POST", f"/assignments/items/tasks/{task}/status", json={
        "itemIds": [], "statusPayload": {"operation": "upsert", "status": "completed"}})
    assert status == 400 and "operation" in body["message"]


@pytest.mark.parametrize("moves", [True, False])
async def test_status_change_moves_updated_at_as_configured(
        gate_factory: GateFactory, moves: bool) -> None:
    """GateBehaviour.refs_move_updated_at decides whether a status change moves updatedAt."""
    gate = await gate_factory(GateOptions(behaviour=GateBehaviour(refs_move_updated_at=moves)))
    headers = {"Authorization": f"Bearer {gate.mint_token()}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        api = GateApi(session, gate.url)
        dataset_id = await api.new_dataset()
        item = (await api.upload(dataset_id, "/u.jpg"))[2]
        task = await new_task(api, dataset_id, [item["id"]])
        with gate.store.transaction(dataset_id) as db:  # an old stamp: any move shows
            db.execute("UPDATE items SET updated_at = ? WHERE id = ?", (OLD, item["id"]))
        await set_status(api, task, [item["id"]], "completed")
        after = await api.ok("GET", f"/items/{item['id']}")
    assert after["metadata"]["system"]["refs"][0]["metadata"]["status"] == "completed"
    assert (after["updatedAt"] != OLD) is moves
