"""Fixtures for gate tests: an authenticated HTTP client and a fresh dataset on the gate."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from dlsync.gate.server import RunningGate


class GateApi:
    """A thin authenticated client for the gate's REST API, as tests need it."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """(status, decoded JSON body) of one request."""
        async with self.session.request(method, self.url + path, **kwargs) as response:
            return response.status, await response.json(content_type=None)

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON body of a request that must answer 200."""
        status, body = await self.call(method, path, **kwargs)
        assert status == 200, body
        return body

    async def new_dataset(self, name: str = "ds") -> str:
        """The id of a new dataset in a new project."""
        project = await self.ok("POST", "/projects", data={"name": f"project-{name}"})
        dataset = await self.ok("POST", "/datasets", json={"name": name,
                                                           "projects": [project["id"]]})
        return str(dataset["id"])

    async def upload(self, dataset_id: str, path: str, content: bytes = b"data",
                     mode: str = "skip", metadata: dict[str, Any] | None = None
                     ) -> tuple[int, str | None, Any]:
        """(status, x-item-op header, body) of a multipart upload."""
        form = aiohttp.FormData()
        form.add_field("type", "file")
        form.add_field("path", path)
        if metadata is not None:
            form.add_field("metadata", json.dumps(metadata))
        base = "".join(c for c in path.rsplit("/", 1)[-1] if c.isprintable()) or "file"
        form.add_field("file", content, filename=base)
        async with self.session.post(f"{self.url}/datasets/{dataset_id}/items?mode={mode}",
                                     data=form) as response:
            return (response.status, response.headers.get("x-item-op"),
                    await response.json(content_type=None))

    async def query(self, dataset_id: str, body: dict[str, Any]) -> Any:
        """The answer to a DQL body on a dataset."""
        return await self.ok("POST", f"/datasets/{dataset_id}/query", json=body)

    async def list_all(self, dataset_id: str, and_filter: list[Any], page_size: int = 1000,
                       resource: str = "items") -> list[dict[str, Any]]:
        """Every entity matching ``and_filter``, paged by keyset on id as dtlpy does it."""
        found: list[dict[str, Any]] = []
        last: str | None = None
        while True:
            conditions = [*and_filter] + ([{"id": {"$gt": last}}] if last else [])
            page = await self.query(dataset_id, {
                "filter": {"$and": conditions}, "sort": {"id": "ascending"}, "page": 0,
                "pageSize": page_size, "resource": resource})
            found += page["items"]
            if not page["hasNextPage"] or not page["items"]:
                return found
            last = page["items"][-1]["id"]


@pytest.fixture
async def api(gate: RunningGate, gate_token: str) -> AsyncIterator[GateApi]:
    """An authenticated client for the ``gate`` fixture."""
    headers = {"Authorization": f"Bearer {gate_token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        yield GateApi(session, gate.url)


@pytest.fixture
async def dataset_id(api: GateApi) -> str:
    """A fresh, empty dataset."""
    return await api.new_dataset()
