"""Checks that a reply has the JSON shape the contract promises, else ``ProtocolError``."""

from __future__ import annotations

from typing import Any, cast

from dlsync.errors import ProtocolError
from dlsync.remote.session import Request
from dlsync.remote.types import PageJson


def _fail(req: Request, problem: str) -> ProtocolError:
    return ProtocolError(f"{req.describe()}: {problem}", method=req.method, url=req.path)


def entity(body: Any, req: Request) -> dict[str, Any]:
    """``body`` as one entity object with a string ``id``."""
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        raise _fail(req, f"expected an object with an 'id', got {type(body).__name__}")
    return cast(dict[str, Any], body)


def entities(body: Any, req: Request) -> list[dict[str, Any]]:
    """``body`` as a list of entity objects (a single object counts as a list of one)."""
    if isinstance(body, dict):
        return [entity(body, req)]
    if not isinstance(body, list):
        raise _fail(req, f"expected a JSON array, got {type(body).__name__}")
    return [entity(one, req) for one in body]


def page(body: Any, req: Request) -> PageJson:
    """``body`` as one listing page: ``items`` (objects with ids) and ``hasNextPage``."""
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise _fail(req, "expected a page object with an 'items' array")
    entities(body["items"], req)
    if not isinstance(body.get("hasNextPage"), bool):
        raise _fail(req, "the page has no boolean 'hasNextPage'")
    return cast(PageJson, body)
