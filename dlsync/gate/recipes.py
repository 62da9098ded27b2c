"""Recipes and ontologies: each dataset's default pair, read, listed and changed label by label.

A dataset names its recipes in ``metadata.system.recipes``; a recipe names its ontologies in
``ontologyIds``; an ontology holds the label tree (``labels.py``). Every dataset gets a recipe
and an ontology of its own when it is created; ``RecipeStore`` gives datasets stored before that
existed theirs when the gate opens.
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

from dlsync.gate import labels, records
from dlsync.gate.ids import IdGenerator
from dlsync.gate.refusal import bad_request, not_found

if TYPE_CHECKING:
    from dlsync.gate.store import Store

_KINDS = {"recipes": "recipe", "ontologies": "ontology"}
_RECIPE_FIELDS = ("title", "description", "instructions", "examples", "customActions",
                  "uiSettings")


def _insert(db: sqlite3.Connection, table: str, entity_id: str, doc: dict[str, Any]) -> None:
    db.execute(f"INSERT INTO {table} (id, doc) VALUES (?, ?)", (entity_id, json.dumps(doc)))


def _stamps(user: str) -> dict[str, Any]:
    now = records.now_iso()
    return {"creator": user, "createdAt": now, "updatedAt": now, "updatedBy": user}


def ontology_doc(title: str, roots: list[labels.LabelRoot], project_ids: list[str],
                 user: str) -> dict[str, Any]:
    """A new ontology's document."""
    return {**_stamps(user), "title": title, "roots": roots, "attributes": [],
            "metadata": {"system": {"projectIds": project_ids}}}


def recipe_doc(title: str, ontology_ids: list[str], project_ids: list[str],
               user: str) -> dict[str, Any]:
    """A new recipe's document."""
    return {**_stamps(user), "title": title, "projectIds": project_ids,
            "ontologyIds": ontology_ids, "description": None, "instructions": [], "examples": [],
            "customActions": [], "metadata": {"system": {"projectIds": project_ids}},
            "uiSettings": {"allowObjectIdAutoAssign": True, "studioV2App": True}}


def recipe_metadata(db: sqlite3.Connection, ids: IdGenerator, dataset_name: str,
                    project_id: str, user: str) -> dict[str, Any]:
    """Create a dataset's default ontology and recipe; the dataset ``metadata`` naming them."""
    ontology_id, recipe_id = ids.next_id(), ids.next_id()
    _insert(db, "ontologies", ontology_id,
            ontology_doc(f"{dataset_name} Default Ontology", [], [project_id], user))
    _insert(db, "recipes", recipe_id,
            recipe_doc(f"{dataset_name} Default Recipe", [ontology_id], [project_id], user))
    return {"system": {"recipes": [recipe_id]}}


def add_missing_recipes(db: sqlite3.Connection, ids: IdGenerator) -> int:
    """Give every dataset without ``metadata.system.recipes`` its default recipe; how many."""
    rows = db.execute("SELECT * FROM datasets WHERE json_extract(doc, '$.metadata.system.recipes')"
                      " IS NULL").fetchall()
    for row in rows:
        doc = json.loads(row["doc"])
        made = recipe_metadata(db, ids, row["name"], row["project_id"], doc.get("creator", ""))
        records.merge_diff(doc, {"metadata": made})
        db.execute("UPDATE datasets SET doc = ? WHERE id = ?", (json.dumps(doc), row["id"]))
    return len(rows)


def _ids(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(i, str) for i in value):
        raise bad_request(f"'{name}' must be a list of ids, got {value!r}")
    return value


class RecipeStore:
    """Recipes and ontologies in the gate's database (through the store's transactions)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        with store.transaction() as db:
            add_missing_recipes(db, store.ids)

    def _doc(self, table: str, entity_id: str) -> dict[str, Any]:
        rows = self._store.rows(f"SELECT doc FROM {table} WHERE id = ?", entity_id)
        if not rows:
            raise not_found(_KINDS[table], entity_id)
        doc: dict[str, Any] = json.loads(rows[0]["doc"])
        doc["id"] = entity_id
        return doc

    def _save(self, table: str, doc: dict[str, Any], user: str) -> dict[str, Any]:
        doc.update(updatedAt=records.now_iso(), updatedBy=user)
        body = {k: v for k, v in doc.items() if k != "id"}
        with self._store.transaction() as db:
            db.execute(f"UPDATE {table} SET doc = ? WHERE id = ?", (json.dumps(body), doc["id"]))
        return doc

    def _all(self, table: str) -> list[dict[str, Any]]:
        rows = self._store.rows(f"SELECT id, doc FROM {table} ORDER BY id")
        return [{**json.loads(r["doc"]), "id": r["id"]} for r in rows]

    def _create(self, table: str, doc: dict[str, Any]) -> dict[str, Any]:
        entity_id = self._store.ids.next_id()
        with self._store.transaction() as db:
            _insert(db, table, entity_id, doc)
        return {**doc, "id": entity_id}

    def _projects(self, body: dict[str, Any]) -> list[str]:
        project_ids = _ids(body.get("projectIds"), "projectIds")
        if not project_ids:
            raise bad_request("'projectIds' must name at least one project")
        for project_id in project_ids:
            self._store.project(project_id)
        return project_ids

    def create_ontology(self, body: Any, user: str) -> dict[str, Any]:
        """A new ontology from ``{"roots", "projectIds", "title"?}``."""
        if not isinstance(body, dict):
            raise bad_request("ontology create body must be a JSON object")
        roots = labels.clean_roots(body.get("roots") or [])
        title = body.get("title") or "Default Ontology"
        return self._create("ontologies", ontology_doc(str(title), roots, self._projects(body),
                                                       user))

    def create_recipe(self, body: Any, user: str) -> dict[str, Any]:
        """A new recipe from ``{"title", "projectIds", "ontologyIds"}``."""
        if not isinstance(body, dict):
            raise bad_request("recipe create body must be a JSON object")
        ontology_ids = _ids(body.get("ontologyIds"), "ontologyIds")
        for ontology_id in ontology_ids:
            self.ontology(ontology_id)
        title = body.get("title") or "Default Recipe"
        return self._create("recipes", recipe_doc(str(title), ontology_ids, self._projects(body),
                                                  user))

    def recipe(self, recipe_id: str) -> dict[str, Any]:
        """The recipe ``recipe_id``; 404 if unknown."""
        return self._doc("recipes", recipe_id)

    def recipes(self, projects: list[str] | None, ontologies: list[str] | None
                ) -> list[dict[str, Any]]:
        """Recipes of any of ``projects`` using any of ``ontologies`` (None: no condition)."""
        return [r for r in self._all("recipes")
                if (projects is None or set(projects) & set(r["projectIds"]))
                and (ontologies is None or set(ontologies) & set(r["ontologyIds"]))]

    def update_recipe(self, recipe_id: str, body: Any, user: str) -> dict[str, Any]:
        """Apply a recipe PATCH: title, description, instructions, ontologies and settings."""
        if not isinstance(body, dict):
            raise bad_request("recipe PATCH body must be a JSON object")
        doc = self.recipe(recipe_id)
        doc.update({k: body[k] for k in _RECIPE_FIELDS if k in body})
        if body.get("ontologyIds") is not None:
            wanted = _ids(body["ontologyIds"], "ontologyIds")
            for ontology_id in wanted:
                self.ontology(ontology_id)
            doc["ontologyIds"] = wanted
        if isinstance(body.get("metadata"), dict):
            records.merge_diff(doc.setdefault("metadata", {}),
                               {k: v for k, v in body["metadata"].items() if k != "system"})
        return self._save("recipes", doc, user)

    def ontology(self, ontology_id: str) -> dict[str, Any]:
        """The ontology ``ontology_id``; 404 if unknown."""
        return self._doc("ontologies", ontology_id)

    def ontologies(self, projects: list[str] | None, ids: list[str] | None
                   ) -> list[dict[str, Any]]:
        """Ontologies of any of ``projects`` among ``ids`` (None: no condition)."""
        return [o for o in self._all("ontologies")
                if (projects is None or set(projects) & set(o["metadata"]["system"]["projectIds"]))
                and (ids is None or o["id"] in ids)]

    def put_ontology(self, ontology_id: str, body: Any, user: str) -> dict[str, Any]:
        """Replace an ontology's labels (``roots``), title and attributes from a PUT body."""
        if not isinstance(body, dict):
            raise bad_request("ontology PUT body must be a JSON object")
        doc = self.ontology(ontology_id)
        if "roots" in body:
            doc["roots"] = labels.clean_roots(body["roots"])
        if body.get("title") is not None:
            if not isinstance(body["title"], str):
                raise bad_request(f"ontology 'title' must be a string, got {body['title']!r}")
            doc["title"] = body["title"]
        if body.get("attributes") is not None:
            doc["attributes"] = _attributes(body["attributes"])
        if isinstance(body.get("metadata"), dict):
            kept = doc["metadata"].get("system", {})
            doc["metadata"] = {**body["metadata"], "system": kept}
        return self._save("ontologies", doc, user)

    def patch_labels(self, ontology_id: str, body: Any, user: str) -> dict[str, Any]:
        """Add or change labels by path (``{"labelsNode": [...], "upsert": bool}``)."""
        if not isinstance(body, dict) or not isinstance(body.get("labelsNode"), list):
            raise bad_request("labels PATCH body must be an object with a 'labelsNode' list")
        doc = self.ontology(ontology_id)
        for node in body["labelsNode"]:
            labels.apply_node(doc["roots"], node, upsert=body.get("upsert") is True)
        return self._save("ontologies", doc, user)


def _attributes(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise bad_request(f"ontology 'attributes' must be a list, got {value!r}")
    return value
