"""Recipes and ontologies: create, get, list, update; labels replaced whole or one by one."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from dlsync.gate.context import API_PREFIX, base_url, gate_of, user_of
from dlsync.gate.records import Page
from dlsync.gate.refusal import bad_request
from dlsync.gate.routes.bodies import json_body, ok

routes = web.RouteTableDef()


def _with_url(request: web.Request, kind: str, entity: dict[str, Any]) -> dict[str, Any]:
    entity["url"] = f"{base_url(request)}/{kind}/{entity['id']}"
    return entity


def _id_list(request: web.Request, name: str) -> list[str] | None:
    """A comma-separated query parameter as a list (None when absent)."""
    raw = request.query.get(name)
    return None if raw is None else [part for part in raw.split(",") if part]


def _number(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name, str(default)) or str(default)
    if not raw.isdigit():
        raise bad_request(f"query parameter {name!r} must be a non-negative integer, got {raw!r}")
    return int(raw)


def _page(request: web.Request, kind: str, entities: list[dict[str, Any]]) -> dict[str, Any]:
    """One page (``pageOffset``, ``pageSize``) of ``entities`` as a list response body."""
    offset, size = _number(request, "pageOffset", 0), max(1, _number(request, "pageSize", 1000))
    chunk = entities[offset * size:(offset + 1) * size]
    page = Page(chunk, len(entities), size, len(entities) > (offset + 1) * size)
    return page.to_json([_with_url(request, kind, e) for e in chunk])


@routes.get(API_PREFIX + "/recipes/{id}")
async def get_recipe(request: web.Request) -> web.Response:
    """One recipe by id."""
    return ok(_with_url(request, "recipes",
                        gate_of(request).recipes.recipe(request.match_info["id"])))


@routes.get(API_PREFIX + "/recipes")
async def list_recipes(request: web.Request) -> web.Response:
    """Recipes filtered by ``projects`` and ``ontologies`` (comma-separated ids), paged."""
    found = gate_of(request).recipes.recipes(_id_list(request, "projects"),
                                             _id_list(request, "ontologies"))
    return ok(_page(request, "recipes", found))


@routes.post(API_PREFIX + "/recipes")
async def create_recipe(request: web.Request) -> web.Response:
    """Create a recipe from ``{"title", "projectIds", "ontologyIds"}``."""
    made = gate_of(request).recipes.create_recipe(await json_body(request),
                                                  user_of(request).email)
    return ok(_with_url(request, "recipes", made))


@routes.post(API_PREFIX + "/ontologies")
async def create_ontology(request: web.Request) -> web.Response:
    """Create an ontology from ``{"roots", "projectIds", "title"?}``."""
    made = gate_of(request).recipes.create_ontology(await json_body(request),
                                                    user_of(request).email)
    return ok(_with_url(request, "ontologies", made))


@routes.patch(API_PREFIX + "/recipes/{id}")
async def update_recipe(request: web.Request) -> web.Response:
    """Change a recipe's title, description, instructions, ontologies or settings."""
    updated = gate_of(request).recipes.update_recipe(
        request.match_info["id"], await json_body(request), user_of(request).email)
    return ok(_with_url(request, "recipes", updated))


@routes.get(API_PREFIX + "/ontologies/{id}")
async def get_ontology(request: web.Request) -> web.Response:
    """One ontology by id, with its label tree in ``roots``."""
    return ok(_with_url(request, "ontologies",
                        gate_of(request).recipes.ontology(request.match_info["id"])))


@routes.get(API_PREFIX + "/ontologies")
async def list_ontologies(request: web.Request) -> web.Response:
    """Ontologies filtered by ``projects`` and ``ids`` (comma-separated), paged."""
    found = gate_of(request).recipes.ontologies(_id_list(request, "projects"),
                                                _id_list(request, "ids"))
    return ok(_page(request, "ontologies", found))


@routes.put(API_PREFIX + "/ontologies/{id}")
async def put_ontology(request: web.Request) -> web.Response:
    """Replace an ontology's labels (``roots``), title, attributes or user metadata."""
    updated = gate_of(request).recipes.put_ontology(
        request.match_info["id"], await json_body(request), user_of(request).email)
    return ok(_with_url(request, "ontologies", updated))


@routes.patch(API_PREFIX + "/ontologies/{id}/labels")
async def patch_labels(request: web.Request) -> web.Response:
    """Add or change labels named by path (``labelsNode``); ``upsert`` adds missing ones."""
    updated = gate_of(request).recipes.patch_labels(
        request.match_info["id"], await json_body(request), user_of(request).email)
    return ok(_with_url(request, "ontologies", updated))
