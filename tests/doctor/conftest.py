"""Doctor scenarios: ``dlsync doctor`` through its command line against real gates."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from dlsync.gate.server import RunningGate
from tests.commands import Outcome, run_cli

PROJECT = "doctor"
TICK = "0.02"  # the gate stamps updatedAt to the millisecond; no need to wait a second

DoctorRun = Callable[..., Awaitable[Outcome]]


@pytest.fixture
def doctor(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> DoctorRun:
    """``await doctor(gate, *flags)``: ``dlsync doctor --remote <gate>`` with a token for it.

    The gate gets the project ``PROJECT``; ``token=`` replaces the one minted for the gate.
    """

    async def run(gate: RunningGate, *flags: str, token: str | None = None) -> Outcome:
        if not gate.store.projects(PROJECT):
            gate.store.create_project(PROJECT, "tester@dlsync.test")
        monkeypatch.setenv("DLSYNC_TOKEN", gate.mint_token() if token is None else token)
        return await run_cli(["doctor", "--remote", gate.url, "--tick", TICK, *flags], capsys)

    return run


def rows_of(outcome: Outcome) -> dict[str, dict[str, Any]]:
    """The rows of a ``--json`` report, by key."""
    report = json.loads(outcome.out)
    return {row["key"]: row for row in report["rows"]}
