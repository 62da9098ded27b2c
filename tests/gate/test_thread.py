"""GateThread serves blocking clients from its own event loop and stops cleanly."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from dlsync.gate.server import GateThread


def test_gate_thread_serves_a_blocking_client_and_stops() -> None:
    """A blocking HTTP client gets answers while the thread runs and none after it stops."""
    with GateThread() as gate:
        request = urllib.request.Request(
            gate.url + "/users/me", headers={"Authorization": f"Bearer {gate.mint_token()}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.load(response)["email"] == "tester@dlsync.test"
        url = gate.url
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/users/me", timeout=5)
