"""Fixtures for client tests: a DataloopClient logged in to the test gate, a project, a dataset."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from dlsync.gate.server import RunningGate
from dlsync.remote.client import DataloopClient
from dlsync.remote.credentials import Credentials
from dlsync.remote.settings import RemoteSettings
from dlsync.remote.types import DatasetJson, ProjectJson

EMAIL = "remote-tests@dlsync.test"


def unique(prefix: str) -> str:
    """A name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def settings_for(gate: RunningGate, **kw: Any) -> RemoteSettings:
    """Client settings pointing at ``gate``; fast retries unless overridden."""
    base: dict[str, Any] = {"url": gate.url, "gate_url": gate.root_url, "rate": 2000.0,
                            "burst": 200, "max_total_wait": 60.0}
    return RemoteSettings(**{**base, **kw})


@pytest.fixture
async def client(gate: RunningGate) -> AsyncIterator[DataloopClient]:
    """A client of the gate with a one-hour token and a rate high enough not to limit."""
    creds = Credentials(gate.mint_token(email=EMAIL, ttl=3600))
    async with DataloopClient(settings_for(gate), creds) as c:
        yield c


@pytest.fixture
async def project(client: DataloopClient) -> ProjectJson:
    """A fresh project."""
    return await client.get_project(unique("remote"), create=True)


@pytest.fixture
async def dataset(client: DataloopClient, project: ProjectJson) -> DatasetJson:
    """A fresh, empty dataset."""
    return await client.get_dataset(project["id"], unique("ds"), create=True)

