"""Recipes and ontologies on the gate: defaults, label trees, refusals, datasets from before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from dlsync.gate.server import GateOptions
from tests.conftest import GateFactory
from tests.gate.conftest import GateApi


async def ontology_of(api: GateApi, dataset_id: str) -> dict[str, Any]:
    """The ontology of the dataset's first recipe."""
    dataset = await api.ok("GET", f"/datasets/{dataset_id}")
    recipe = await api.ok("GET", f"/recipes/{dataset['metadata']['system']['recipes'][0]}")
    return dict(await api.ok("GET", f"/ontologies/{recipe['ontologyIds'][0]}"))


async def test_each_dataset_has_its_own_default_recipe(api: GateApi) -> None:
    """Two datasets name different recipes of their project, each with an empty ontology."""
    first, second = await api.new_dataset("r1"), await api.new_dataset("r2")
    found = [await api.ok("GET", f"/datasets/{d}") for d in (first, second)]
    recipes = [d["metadata"]["system"]["recipes"] for d in found]
    assert len(recipes[0]) == len(recipes[1]) == 1 and recipes[0] != recipes[1]
    recipe = await api.ok("GET", f"/recipes/{recipes[0][0]}")
    assert recipe["projectIds"] == found[0]["projects"] and recipe["title"].startswith("r1")
    listed = await api.ok("GET", f"/recipes?projects={found[0]['projects'][0]}&pageSize=10")
    assert [r["id"] for r in listed["items"]] == recipes[0] and not listed["hasNextPage"]
    assert (await ontology_of(api, first))["roots"] == []


async def test_labels_node_adds_nested_labels_and_updates_fields(api: GateApi,
                                                                 dataset_id: str) -> None:
    """labelsNode paths nest labels; an update keeps the fields it does not send."""
    ontology = await ontology_of(api, dataset_id)
    path = f"/ontologies/{ontology['id']}/labels"
    await api.ok("PATCH", path, json={"upsert": True, "labelsNode": [
        {"tag": "animal", "color": "#FF0000", "attributes": ["a"]},
        {"tag": "animal.dog", "displayLabel": "Dog"}]})
    changed = await api.ok("PATCH", path, json={"upsert": False, "labelsNode": [
        {"tag": "animal", "color": "#00ff00"}]})
    animal = changed["roots"][0]
    assert animal["value"] == {"tag": "animal", "displayLabel": "animal", "color": "#00ff00",
                               "attributes": ["a"], "displayData": {}}
    assert [c["value"]["tag"] for c in animal["children"]] == ["dog"]
    assert animal["children"][0]["value"]["color"].startswith("#")


@pytest.mark.parametrize(("body", "words"), [
    ({"labelsNode": [{"tag": "x.y"}], "upsert": True}, "parent 'x'"),
    ({"labelsNode": [{"tag": "x", "color": "red"}], "upsert": True}, "#rrggbb"),
    ({"labelsNode": [{"tag": ""}], "upsert": True}, "tag"),
    ({"labelsNode": [{"tag": "x"}], "upsert": False}, "upsert"),
    ({"labels": []}, "labelsNode"),
])
async def test_bad_label_changes_are_refused(api: GateApi, dataset_id: str,
                                             body: dict[str, Any], words: str) -> None:
    """Each bad labelsNode request is a 400 naming the problem; the ontology is unchanged."""
    ontology = await ontology_of(api, dataset_id)
    status, answer = await api.call("PATCH", f"/ontologies/{ontology['id']}/labels", json=body)
    assert status == 400 and words in answer["message"]
    assert (await ontology_of(api, dataset_id))["roots"] == []


@pytest.mark.parametrize(("roots", "words"), [
    ([{"value": {"tag": "a.b"}, "children": []}], "separates nested labels"),
    ([{"value": {"tag": "a"}}, {"value": {"tag": "a"}}], "twice"),
    ([{"value": {"tag": "a"}, "children": [{"value": {"tag": "b", "attributes": "x"}}]}],
     "attributes"),
    ({"tag": "a"}, "list"),
])
async def test_bad_label_trees_are_refused(api: GateApi, dataset_id: str, roots: Any,
                                           words: str) -> None:
    """A PUT whose roots break the tree rules is a 400 naming the problem."""
    ontology = await ontology_of(api, dataset_id)
    status, answer = await api.call("PUT", f"/ontologies/{ontology['id']}",
                                    json={**ontology, "roots": roots})
    assert status == 400 and words in answer["message"]


async def test_datasets_from_before_recipes_get_one_on_restart(
        gate_factory: GateFactory, tmp_path: Path) -> None:
    """A stored dataset without metadata.system.recipes gets a default one when the gate opens."""
    first = await gate_factory(GateOptions(data_dir=tmp_path))
    headers = {"Authorization": f"Bearer {first.mint_token()}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        dataset_id = await GateApi(session, first.url).new_dataset("old")
    with first.store.transaction(dataset_id) as db:  # as a gate without recipes stored it
        doc = json.loads(db.execute("SELECT doc FROM datasets WHERE id = ?",
                                    (dataset_id,)).fetchone()[0])
        doc["metadata"] = {"user": {"kept": True}}
        db.execute("UPDATE datasets SET doc = ? WHERE id = ?", (json.dumps(doc), dataset_id))
    await first.close()
    second = await gate_factory(GateOptions(data_dir=tmp_path))
    async with aiohttp.ClientSession(headers=headers) as session:
        api = GateApi(session, second.url)
        dataset = await api.ok("GET", f"/datasets/{dataset_id}")
        assert dataset["metadata"]["user"] == {"kept": True}
        assert (await ontology_of(api, dataset_id))["roots"] == []
        assert dataset["metadata"]["system"]["recipes"][0] > dataset_id
