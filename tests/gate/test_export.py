"""Dataset exports on the gate: a finished command whose output item holds the items' JSON."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest

from tests.gate.conftest import GateApi

BOX = {"type": "box", "label": "cat", "metadata": {},
       "coordinates": [{"x": 1, "y": 2, "z": 0}, {"x": 3, "y": 4, "z": 0}]}


async def _seed(api: GateApi, dataset_id: str) -> dict[str, dict[str, Any]]:
    """Three files, two annotated; the items by filename."""
    items = {}
    for path, labels in (("/a.jpg", ["cat", "dog"]), ("/f/b.png", ["cat"]), ("/f/g/c.txt", [])):
        _, _, item = await api.upload(dataset_id, path, path.encode())
        if labels:
            await api.ok("POST", f"/items/{item['id']}/annotations",
                         json=[{**BOX, "label": label} for label in labels])
        items[path] = item
    return items


async def _export(api: GateApi, dataset_id: str, body: dict[str, Any]) -> tuple[Any, bytes]:
    """(command, output bytes) of one export."""
    command = await api.ok("POST", f"/datasets/{dataset_id}/export", json=body)
    output = command["spec"]["outputItemId"]
    async with api.session.get(f"{api.url}/items/{output}/stream") as response:
        assert response.status == 200
        return command, await response.read()


def _members(data: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: json.loads(archive.read(name)) for name in archive.namelist()}


async def test_export_zip_holds_each_item_with_its_annotations(
    api: GateApi, dataset_id: str
) -> None:
    """V1 members are <path>.json with the extension replaced; each is GET /items/{id} plus
    the item's annotations exactly as the annotations query and GET /items/{id}/annotations
    answer them."""
    items = await _seed(api, dataset_id)
    command, data = await _export(api, dataset_id, {"annotations": {"include": True}})
    assert command["status"] == "success" and command["progress"] == 100
    members = _members(data)
    assert set(members) == {"a.json", "f/b.json", "f/g/c.json"}
    for path, item in items.items():
        document = members[path.lstrip("/").rsplit(".", 1)[0] + ".json"]
        expected = await api.ok("GET", f"/items/{item['id']}")
        listed = await api.list_all(dataset_id, [{"itemId": item["id"]}], resource="annotations")
        assert document["annotations"] == listed
        assert document["annotations"] == await api.ok("GET", f"/items/{item['id']}/annotations")
        document.pop("annotations")
        expected.pop("annotations")
        assert document == expected


async def test_command_and_output_item_are_served(api: GateApi, dataset_id: str) -> None:
    """GET /commands/{id} answers the finished command; the output is a hidden zip item that
    leaves the dataset's listing and counts alone."""
    await _seed(api, dataset_id)
    command, data = await _export(api, dataset_id, {})
    assert await api.ok("GET", f"/commands/{command['id']}") == command
    output = await api.ok("GET", f"/items/{command['spec']['outputItemId']}")
    assert output["hidden"] is True and output["name"].endswith(".zip")
    assert output["metadata"]["system"] == {**output["metadata"]["system"],
                                            "size": len(data), "mimetype": "application/zip"}
    assert (await api.ok("GET", f"/datasets/{dataset_id}"))["itemsCount"] == 3


async def test_items_query_v2_and_json_type(api: GateApi, dataset_id: str) -> None:
    """itemsQuery narrows the export (an empty join is fine); V2 keeps the extension; exportType
    json gives one array."""
    await _seed(api, dataset_id)
    _, data = await _export(api, dataset_id, {"itemsQuery": {"filter": None}})
    assert set(_members(data)) == {"a.json", "f/b.json", "f/g/c.json"}
    query = {"filter": {"$and": [{"dir": "/f/**"}]}, "join": {}, "page": 3, "pageSize": 1}
    _, data = await _export(api, dataset_id, {"itemsQuery": query, "exportVersion": "V2"})
    assert set(_members(data)) == {"f/g/c.txt.json"}
    _, data = await _export(api, dataset_id, {"exportType": "json"})
    array = json.loads(data)
    assert sorted(d["filename"] for d in array) == ["/a.jpg", "/f/b.png", "/f/g/c.txt"]
    assert sorted(len(d["annotations"]) for d in array) == [0, 1, 2]


async def test_annotation_filter_applies_only_when_asked(api: GateApi, dataset_id: str) -> None:
    """annotationsQuery narrows the annotations in the output when annotations.filter is true;
    with annotations.include false the documents are the bare item JSON (annotations: its URL)."""
    await _seed(api, dataset_id)
    only_dogs = {"annotationsQuery": {"filter": {"$and": [{"label": "dog"}]}},
                 "annotations": {"include": True, "filter": True}}
    _, data = await _export(api, dataset_id, only_dogs)
    labels = {name: [a["label"] for a in d["annotations"]] for name, d in _members(data).items()}
    assert labels == {"a.json": ["dog"], "f/b.json": [], "f/g/c.json": []}
    _, data = await _export(api, dataset_id, {"annotations": {"include": False}})
    assert all(d["annotations"] == d["url"] + "/annotations" for d in _members(data).values())


@pytest.mark.parametrize("body", [
    [], {"exportType": "csv"}, {"exportVersion": "V9"}, {"itemsQuery": "all"},
    {"itemsQuery": {"filter": {"$and": [{"size": {"$regex": "x"}}]}}},
    {"itemsQuery": {"filter": "all"}}, {"itemsQuery": {"filter": {"$and": {"a": 1}}}},
    {"annotationsQuery": {"filter": {"label": {"$near": 1}}}, "annotations": {"filter": True}},
], ids=["array", "type", "version", "query-type", "bad-dql", "filter-string", "and-object",
        "bad-annotation-dql"])
async def test_malformed_export_bodies_are_refused(
    api: GateApi, dataset_id: str, body: Any
) -> None:
    """A malformed body is answered 400 with a message, before anything is written."""
    status, answer = await api.call("POST", f"/datasets/{dataset_id}/export", json=body)
    assert status == 400 and answer["message"]


async def test_unknown_dataset_and_command_are_404(api: GateApi) -> None:
    """An unknown dataset, command or item (for its annotations) answers 404."""
    status, _ = await api.call("POST", "/datasets/000000000000000000000000/export", json={})
    assert status == 404
    status, _ = await api.call("GET", "/commands/000000000000000000000000")
    assert status == 404
    status, _ = await api.call("GET", "/items/000000000000000000000000/annotations")
    assert status == 404
