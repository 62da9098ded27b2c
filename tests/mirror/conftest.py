"""Scenario fixtures: ``dlsync mirror`` driven through its command line against a real gate.

``mirror(*flags)`` runs the click command in a worker thread (it starts its own event loop,
while the gate keeps serving on the test's loop) and returns ``(exit code, stdout)``. ``remote``
reads what the platform holds afterwards through ``DataloopClient``, the way a user would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from dlsync.constants import FINGERPRINT_KEY
from dlsync.gate.server import RunningGate
from dlsync.remote.client import DataloopClient
from dlsync.remote.credentials import Credentials
from dlsync.remote.settings import RemoteSettings
from dlsync.remote.types import AnnotationJson, ItemJson
from tests.commands import Outcome, run_cli

PROJECT = "scenarios"
DATASET = "mirror"
_WRITE_METHODS = ("POST ", "PUT ", "PATCH ", "DELETE ")
_READ_ROUTES = ("/query", "/token")   # POST routes that only read (DQL queries, token refresh)



MirrorRun = Callable[..., Awaitable[Outcome]]


def writes(stats: dict[str, Any]) -> dict[str, int]:
    """Requests that change the platform, by route: every POST/PUT/PATCH/DELETE but queries."""
    found = {}
    for route, by_status in stats["by_route"].items():
        if route.startswith(_WRITE_METHODS) and not route.endswith(_READ_ROUTES):
            found[route] = sum(by_status.values())
    return found


def uploads(stats: dict[str, Any]) -> int:
    """How many upload requests (``POST /datasets/{id}/items``) the gate answered."""
    return sum(n for route, n in writes(stats).items()
               if route.startswith("POST ") and route.endswith("/datasets/{id}/items"))


@dataclass
class Remote:
    """The platform side of a scenario, read and changed through the API."""

    gate: RunningGate
    client: DataloopClient
    token: str

    async def dataset_id(self) -> str:
        project = await self.client.get_project(PROJECT)
        return (await self.client.get_dataset(project["id"], DATASET))["id"]

    async def items(self) -> dict[str, ItemJson]:
        """Every file item of the dataset by remote filename."""
        dataset = await self.dataset_id()
        return {item["filename"]: item async for item in self.client.iter_items(dataset)}

    async def annotations(self, item_id: str) -> list[AnnotationJson]:
        dataset = await self.dataset_id()
        return [a async for a in self.client.iter_annotations(dataset, item_id)]

    async def content(self, item_id: str) -> bytes:
        return b"".join([chunk async for chunk in self.client.download(item_id)])

    async def annotate(self, item_id: str, label: str) -> str:
        """Post an annotation as an annotator would; returns its id."""
        body = {"type": "class", "label": label, "coordinates": []}
        created = await self.client.post_annotations(item_id, [body])  # type: ignore[list-item]
        return str(created[0]["id"])

    async def edit_annotation(self, annotation_id: str, diff: dict[str, Any]) -> None:
        """Change an annotation on the platform (``PUT /annotations/{id}`` with a diff)."""
        headers = {"Authorization": f"Bearer {self.token}"}
        async with aiohttp.ClientSession(headers=headers) as session, \
                session.put(f"{self.gate.url}/annotations/{annotation_id}", json=diff) as reply:
            assert reply.status == 200, await reply.text()


def fingerprint_of(item: ItemJson) -> dict[str, Any]:
    """The dlsync key of an item's user metadata."""
    return dict(item["metadata"]["user"][FINGERPRINT_KEY])  # type: ignore[typeddict-item]


def labels(annotations: list[AnnotationJson]) -> list[str]:
    return sorted(str(a.get("label")) for a in annotations)


@pytest.fixture
async def remote(gate: RunningGate) -> AsyncIterator[Remote]:
    token = gate.mint_token()
    settings = RemoteSettings(url=gate.url)
    async with DataloopClient(settings, Credentials(token=token, source="test")) as client:
        yield Remote(gate, client, token)


@pytest.fixture
def mirror(gate: RunningGate, source: Path, state_path: Path, monkeypatch: pytest.MonkeyPatch,
           capsys: pytest.CaptureFixture[str]) -> MirrorRun:
    """``await mirror(*flags)``: one ``dlsync mirror`` of ``source`` as an ``Outcome``."""
    monkeypatch.setenv("DLSYNC_TOKEN", gate.mint_token())

    async def run(*flags: str, root: Path | None = None) -> Outcome:
        return await run_cli(["mirror", str(root or source), "--remote", gate.url,
                              "--project", PROJECT, "--dataset", DATASET,
                              "--state", str(state_path), "--no-progress", *flags], capsys)

    return run
