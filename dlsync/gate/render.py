"""Adds the URL fields Dataloop puts in entity JSON, relative to the base URL a caller used."""

from __future__ import annotations

from typing import Any


def item(base: str, entity: dict[str, Any]) -> dict[str, Any]:
    """An item with ``url``, ``stream``, ``thumbnail``, ``dataset`` and ``annotations``."""
    item_url = f"{base}/items/{entity['id']}"
    entity.update(
        url=item_url, stream=f"{item_url}/stream", thumbnail=f"{item_url}/thumbnail",
        annotations=f"{item_url}/annotations", dataset=f"{base}/datasets/{entity['datasetId']}",
    )
    return entity


def annotation(base: str, entity: dict[str, Any]) -> dict[str, Any]:
    """An annotation with ``url``, ``item`` and ``dataset``."""
    entity.update(
        url=f"{base}/annotations/{entity['id']}", item=f"{base}/items/{entity['itemId']}",
        dataset=f"{base}/datasets/{entity['datasetId']}",
    )
    return entity


def dataset(base: str, entity: dict[str, Any]) -> dict[str, Any]:
    """A dataset with ``url``, ``items`` and ``directoryTree`` URLs."""
    url = f"{base}/datasets/{entity['id']}"
    entity.update(url=url, items=f"{url}/items", directoryTree=f"{url}/directoryTree")
    return entity


def project(base: str, entity: dict[str, Any]) -> dict[str, Any]:
    """A project with ``url``."""
    entity["url"] = f"{base}/projects/{entity['id']}"
    return entity
