"""Auth on the gate: bearer JWTs signed with the gate's secret, refresh flow, 401 bodies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from dlsync.gate.auth import TokenAuthority, memory_secret
from dlsync.gate.server import GateOptions, RunningGate
from tests.conftest import GateFactory


async def _me(gate: RunningGate, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as session, session.get(
        gate.url + "/users/me", headers=headers
    ) as response:
        return response.status, await response.json()


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer not-a-jwt"},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "Bearer "},
], ids=["missing", "garbage", "basic", "empty"])
async def test_requests_without_a_valid_token_get_401_json(
    gate: RunningGate, headers: dict[str, str]
) -> None:
    """Missing or malformed credentials are answered 401 with a JSON message and status."""
    status, body = await _me(gate, headers)
    assert status == 401
    assert body["status"] == 401 and isinstance(body["message"], str) and body["message"]


async def test_expired_token_is_refused(gate: RunningGate) -> None:
    """A token past its exp is refused with a message saying it expired."""
    status, body = await _me(gate, {"Authorization": f"Bearer {gate.mint_token(ttl=-10)}"})
    assert status == 401 and "expired" in str(body["message"])


async def test_token_signed_with_another_secret_is_refused(gate: RunningGate) -> None:
    """A well-formed JWT signed with a different secret is refused."""
    foreign = TokenAuthority(memory_secret()).mint("tester@dlsync.test", 3600)
    status, _ = await _me(gate, {"Authorization": f"Bearer {foreign}"})
    assert status == 401


async def test_valid_token_names_the_user(gate: RunningGate) -> None:
    """GET /users/me answers the e-mail the token was minted for."""
    token = gate.mint_token(email="ann@example.org")
    status, body = await _me(gate, {"Authorization": f"Bearer {token}"})
    assert status == 200 and body["email"] == "ann@example.org" and body["id"]


async def test_refresh_flow_returns_a_working_access_token(gate: RunningGate) -> None:
    """POST {root}/token?default trades a refresh token for an access token that works."""
    body = {"type": "refresh_token", "refresh_token": gate.mint_refresh_token()}
    async with aiohttp.ClientSession() as session, session.post(
        gate.root_url + "/token?default", json=body
    ) as response:
        assert response.status == 200
        access = (await response.json())["id_token"]
    status, _ = await _me(gate, {"Authorization": f"Bearer {access}"})
    assert status == 200


async def test_token_kinds_are_not_interchangeable(gate: RunningGate) -> None:
    """A refresh token is no access token, and an access token cannot be refreshed."""
    status, _ = await _me(gate, {"Authorization": f"Bearer {gate.mint_refresh_token()}"})
    assert status == 401
    body = {"type": "refresh_token", "refresh_token": gate.mint_token()}
    async with aiohttp.ClientSession() as session, session.post(
        gate.root_url + "/token?default", json=body
    ) as response:
        assert response.status == 401


async def test_token_cli_mints_tokens_a_serving_gate_accepts(
    gate_factory: GateFactory, tmp_path: Path
) -> None:
    """`dlsync gate token --data DIR` prints a token the gate on DIR accepts; the secret is 0600."""
    running = await gate_factory(GateOptions(data_dir=tmp_path))
    printed = subprocess.run(
        [sys.executable, "-m", "dlsync", "gate", "token", "--data", str(tmp_path),
         "--email", "cli@dlsync.test"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()
    status, body = await _me(running, {"Authorization": f"Bearer {printed}"})
    assert status == 200 and body["email"] == "cli@dlsync.test"
    assert (tmp_path / "secret").stat().st_mode & 0o777 == 0o600
