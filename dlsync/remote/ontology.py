"""``OntologyOps``: a dataset's recipe and ontology, read, and labels added by path.

A dataset names its recipes in ``metadata.system.recipes``; the first is its default, and that
recipe's first ``ontologyIds`` entry is the ontology its annotations' labels belong to. Labels
are added with dtlpy's own call (``ontology.add_labels``): ``PATCH /ontologies/{id}/labels``
with ``upsert``, which the platform applies label by label, so a concurrent change to another
label is never overwritten (a ``PUT`` of the whole ``roots`` would be).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dlsync.errors import NotFoundError, ProtocolError
from dlsync.remote import replies
from dlsync.remote.calls import ClientCore


@dataclass(frozen=True, slots=True)
class OntologyRef:
    """Where a dataset's labels live: its default recipe and that recipe's ontology."""

    recipe_id: str
    ontology_id: str


class OntologyOps(ClientCore):
    """Read a dataset's ontology; add labels to it; find the recipes that share it."""

    async def dataset_ontology(self, dataset_id: str) -> OntologyRef:
        """The default recipe of the dataset and its first ontology."""
        reply, req = await self._call("GET", f"/datasets/{dataset_id}", f"dataset {dataset_id}")
        system = (replies.entity(reply.body, req).get("metadata") or {}).get("system") or {}
        recipes = system.get("recipes") or []
        if not recipes or not isinstance(recipes[0], str):
            raise NotFoundError(f"dataset {dataset_id} has no recipe (metadata.system.recipes)")
        reply, req = await self._call("GET", f"/recipes/{recipes[0]}", f"recipe {recipes[0]}")
        ontologies = replies.entity(reply.body, req).get("ontologyIds") or []
        if not ontologies or not isinstance(ontologies[0], str):
            raise NotFoundError(f"recipe {recipes[0]} of dataset {dataset_id} has no ontology")
        return OntologyRef(recipes[0], ontologies[0])

    async def ontology(self, ontology_id: str) -> dict[str, Any]:
        """The ontology, with its label tree in ``roots``."""
        reply, req = await self._call("GET", f"/ontologies/{ontology_id}",
                                      f"ontology {ontology_id}")
        found = replies.entity(reply.body, req)
        if not isinstance(found.get("roots", []), list):
            raise ProtocolError(f"{req.describe()}: 'roots' is not a list")
        return found

    async def add_labels(self, ontology_id: str, nodes: Sequence[dict[str, Any]]
                         ) -> dict[str, Any]:
        """Add labels by path (parents first); labels already there keep what they have."""
        reply, req = await self._call(
            "PATCH", f"/ontologies/{ontology_id}/labels",
            f"add {len(nodes)} labels to ontology {ontology_id}",
            json={"labelsNode": list(nodes), "upsert": True})
        return replies.entity(reply.body, req)

    async def recipes_using(self, ontology_id: str) -> list[str]:
        """Ids of the recipes that use the ontology (first page of 1,000 is plenty)."""
        reply, req = await self._call("GET", "/recipes", f"recipes using ontology {ontology_id}",
                                      params={"ontologies": ontology_id, "pageSize": "1000"})
        return [one["id"] for one in replies.page(reply.body, req)["items"]]
