"""Fixtures for the operations tests: a state database filled by a real mirror against the gate."""

from __future__ import annotations

import io
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from dlsync import logs
from dlsync.config import pair_from_flags
from dlsync.gate.server import RunningGate
from dlsync.push.command import MirrorRequest, run_mirror

PROJECT = "ops"
DATASET = "status"

MirrorOnce = Callable[[], Awaitable[int]]


@pytest.fixture(autouse=True)
def log_to_real_stderr() -> Iterator[None]:
    """Keep log output on the process's stderr, never on a capture a test has closed."""
    logs.configure(json=True, level="warning", stream=sys.__stderr__)
    yield
    logs.configure(json=True, level="warning", stream=sys.__stderr__)


async def _create_project(gate: RunningGate, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session, \
            session.post(f"{gate.url}/projects", data={"name": PROJECT}) as reply:
        assert reply.status == 200, await reply.text()


@pytest.fixture
async def mirror_once(gate: RunningGate, source: Path, state_path: Path,
                      monkeypatch: pytest.MonkeyPatch) -> MirrorOnce:
    """``await mirror_once()``: one in-process ``dlsync mirror`` of ``source``; its exit code."""
    token = gate.mint_token()
    monkeypatch.setenv("DLSYNC_TOKEN", token)
    await _create_project(gate, token)
    pair = pair_from_flags(source=str(source), project=PROJECT, dataset=DATASET,
                           remote=gate.url, create=True)

    async def run() -> int:
        return await run_mirror(MirrorRequest(pair=pair, state=state_path, progress=False),
                                io.StringIO())

    return run
