"""dtlpy reads a dataset's default recipe and ontology, and adds, nests and updates labels."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from tests.dtlpy.sdk import DTLPY_MARKS, unique

pytestmark = DTLPY_MARKS


def fresh(project: Any, dataset: Any) -> Any:
    """The dataset fetched again, so dtlpy's cached labels and ontology are dropped."""
    return project.datasets.get(dataset_id=dataset.id)


def test_new_dataset_has_a_default_recipe_and_an_empty_ontology(dataset: Any) -> None:
    """A dataset created through dtlpy names one recipe, which uses one ontology with no labels."""
    recipe_ids = dataset.metadata["system"]["recipes"]
    recipes = dataset.recipes.list()
    assert [r.id for r in recipes] == recipe_ids and len(recipe_ids) == 1
    ontologies = recipes[0].ontologies.list()
    assert len(ontologies) == 1
    assert ontologies[0].id == recipes[0].ontology_ids[0]
    assert dataset.labels == []


def test_add_labels_with_colours_children_and_attributes(project: Any, dataset: Any) -> None:
    """dataset.add_labels stores names, '#rrggbb' colours, nested children and attributes."""
    dataset.add_labels(label_list=[
        {"tag": "animal", "color": "#ff0000", "attributes": ["wild", "tame"],
         "children": [{"label_name": "dog", "color": "#00ff00"}]},
        "car",
    ])
    labels = {label.tag: label for label in fresh(project, dataset).labels}
    assert set(labels) == {"animal", "car"}
    assert labels["animal"].rgb == (255, 0, 0)
    assert labels["animal"].attributes == ["wild", "tame"]
    assert [(c.tag, c.rgb) for c in labels["animal"].children] == [("dog", (0, 255, 0))]
    assert labels["car"].color.startswith("#")
    assert set(fresh(project, dataset).labels_flat_dict) == {"animal", "animal.dog", "car"}


def test_update_labels_changes_only_what_is_sent(project: Any, dataset: Any) -> None:
    """dataset.update_labels recolours an existing label and keeps its attributes and children."""
    dataset.add_labels(label_list=[{"tag": "cat", "color": "#010203", "attributes": ["a"],
                                    "children": [{"label_name": "kitten"}]}])
    dataset.update_labels(label_list=[{"tag": "cat", "color": "#0a0b0c"}])
    cat = fresh(project, dataset).labels[0]
    assert (cat.tag, cat.rgb, cat.attributes) == ("cat", (10, 11, 12), ["a"])
    assert [c.tag for c in cat.children] == ["kitten"]


def test_update_of_a_missing_label_without_upsert_is_refused(
        dl: ModuleType, project: Any, dataset: Any) -> None:
    """update_labels(upsert=False) on an unknown label fails and adds nothing; upsert adds it."""
    with pytest.raises(dl.exceptions.BadRequest, match="ghost"):
        dataset.update_labels(label_list=[{"tag": "ghost", "color": "#123456"}])
    assert fresh(project, dataset).labels == []
    dataset.update_labels(label_list=[{"tag": "ghost", "color": "#123456"}], upsert=True)
    assert [label.tag for label in fresh(project, dataset).labels] == ["ghost"]


def test_ontology_update_replaces_the_label_tree(project: Any, dataset: Any) -> None:
    """Deleting a label through the ontology entity (a PUT of the whole tree) removes it."""
    dataset.add_labels(label_list=["keep", "drop"])
    fresh(project, dataset).delete_labels(label_names=["drop"])
    assert [label.tag for label in fresh(project, dataset).labels] == ["keep"]


def test_recipes_and_ontologies_list_by_project(project: Any, dataset: Any) -> None:
    """project.recipes.list() and dataset.ontologies.list() include the dataset's default ones."""
    recipe_id = dataset.metadata["system"]["recipes"][0]
    assert recipe_id in {r.id for r in project.recipes.list().all()}
    ontology_id = dataset.recipes.get(recipe_id=recipe_id).ontology_ids[0]
    assert [o.id for o in dataset.ontologies.list()] == [ontology_id]


def test_dataset_created_with_labels_uses_a_recipe_of_its_own(dl: ModuleType,
                                                              project: Any) -> None:
    """datasets.create(labels=...) makes an ontology and recipe and switches the dataset to it."""
    created = project.datasets.create(dataset_name=unique("with-labels"),
                                      labels=[dl.Label(tag="tree", color=(0, 128, 0))])
    dataset = project.datasets.get(dataset_id=created.id)
    assert [(label.tag, label.rgb) for label in dataset.labels] == [("tree", (0, 128, 0))]
    assert dataset.get_recipe_ids() == [dataset.recipes.list()[0].id]
