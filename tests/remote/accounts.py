"""What the credential-chain tests share: an environment without tokens, the mirror command
line, the login store, and the gate's count of token requests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dlsync.gate.server import RunningGate
from dlsync.state.location import login_store_path

PASSWORD = "machine user password 0123"
EMAIL = "robot@dlsync.test"
TOKEN_ENV = ("DLSYNC_TOKEN", "DLSYNC_TOKEN_FILE", "DLSYNC_REFRESH_TOKEN",
             "DLSYNC_REFRESH_TOKEN_FILE", "CREDENTIALS_DIRECTORY")


def without_explicit_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """No token in the environment, no systemd credentials: the chain's later sources count."""
    for name in TOKEN_ENV:
        monkeypatch.delenv(name, raising=False)


def mirror_argv(gate: RunningGate, source: Path, state: Path) -> list[str]:
    """``dlsync mirror`` of ``source`` into the gate, creating project and dataset."""
    return ["mirror", str(source), "--remote", gate.url, "--project", "creds",
            "--dataset", "chain", "--create", "--state", str(state), "--no-progress"]


def stored_logins(state: Path) -> dict[str, Any]:
    """The ``logins`` table of the login store beside ``state``."""
    body = json.loads(login_store_path(state).read_text(encoding="utf-8"))
    assert body["version"] == 1
    return dict(body["logins"])


def token_requests(gate: RunningGate) -> dict[str, int]:
    """``POST /token`` answers by status since the last reset (refreshes and logins)."""
    found: dict[str, int] = {}
    for route, by_status in gate.stats()["by_route"].items():
        if route.startswith("POST /token"):
            for status, count in by_status.items():
                found[status] = found.get(status, 0) + count
    return found
