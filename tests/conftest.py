"""Shared fixtures: a real gate on loopback (port 0) for every test that talks to a remote."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from dlsync import logs
from dlsync.gate.server import GateOptions, RunningGate, start_gate
from tests.layouts import Layout

GateFactory = Callable[[GateOptions], Awaitable[RunningGate]]


def pytest_configure(config: pytest.Config) -> None:
    """Log as the command line does (redacted, plain tracebacks), warnings and up only."""
    logs.configure(json=False, level="warning")


@pytest.fixture(autouse=True)
def no_dtlpy_login(tmp_path_factory: pytest.TempPathFactory,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    """dlsync falls back to dtlpy's login (``$DATALOOP_PATH/cookie.json``): point that at an empty
    folder, so no test ever reads the machine's own ``~/.dataloop``."""
    monkeypatch.setenv("DATALOOP_PATH", str(tmp_path_factory.getbasetemp() / "no-dataloop"))


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """An empty sync root."""
    root = tmp_path / "data"
    root.mkdir()
    return root


@pytest.fixture(params=["dir", "sidecar"])
def layout(request: pytest.FixtureRequest, source: Path, tmp_path: Path) -> Layout:
    """Each test using it runs once per annotation layout."""
    return Layout(request.param, source, tmp_path)


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    """Where the test's state database lives (not created yet)."""
    return tmp_path / "state" / "state.db"


@pytest.fixture
async def gate() -> AsyncIterator[RunningGate]:
    """An in-memory gate on a free loopback port, closed after the test."""
    running = await start_gate(GateOptions())
    yield running
    await running.close()


@pytest.fixture
def gate_token(gate: RunningGate) -> str:
    """A valid access token for ``gate``."""
    return gate.mint_token()


@pytest.fixture
async def gate_factory() -> AsyncIterator[GateFactory]:
    """Starts gates with any GateOptions; every one is closed after the test."""
    started: list[RunningGate] = []

    async def start(options: GateOptions) -> RunningGate:
        running = await start_gate(options)
        started.append(running)
        return running

    yield start
    for running in reversed(started):
        await running.close()
