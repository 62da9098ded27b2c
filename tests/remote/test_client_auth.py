"""Auth: bad and expired tokens fail fast and never show; refresh renews an expired token."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from structlog.testing import capture_logs

from dlsync.errors import AuthError
from dlsync.remote.client import DataloopClient
from dlsync.remote.credentials import Credentials
from tests.remote.conftest import EMAIL, settings_for, unique


def forged_token() -> str:
    """A well-formed JWT with a future ``exp`` that the gate did not sign."""
    claims = {"email": EMAIL, "sub": EMAIL, "iat": int(time.time()),
              "exp": int(time.time()) + 3600}
    return jwt.encode(claims, "a-key-the-gate-never-saw-0123456789", algorithm="HS256")


async def fail_with(gate: Any, creds: Credentials) -> tuple[AuthError, str, list[Any]]:
    """Run one call that must fail with AuthError; return it, the client repr and log events."""
    with capture_logs() as events:
        async with DataloopClient(settings_for(gate), creds) as client:
            with pytest.raises(AuthError) as err:
                await client.get_project(unique("p"), create=True)
            shown = repr(client) + repr(client.credentials) + repr(client.pacer.stats())
    return err.value, shown, events


@pytest.mark.parametrize("kind", ["forged", "expired"])
async def test_rejected_token_fails_fast_and_is_never_shown(gate: Any, kind: str) -> None:
    """A bad or expired token without refresh is an AuthError after at most two requests.

    The message names the remote URL; the token is in no log event, message or repr.
    """
    token = forged_token() if kind == "forged" else gate.mint_token(email=EMAIL, ttl=-120)
    gate.reset_stats()
    error, shown, events = await fail_with(gate, Credentials(token))
    assert gate.stats()["total"] <= 2
    assert gate.url in str(error)
    for text in (str(error), repr(error), shown, repr(events), str(error.__cause__)):
        assert token not in text


async def test_expired_token_with_refresh_token_is_renewed(gate: Any) -> None:
    """An expired token plus a refresh token: one POST /token?default, then the call succeeds."""
    expired = gate.mint_token(email=EMAIL, ttl=-120)
    refresh = gate.mint_refresh_token(email=EMAIL, ttl=3600)
    with capture_logs() as events:
        async with DataloopClient(settings_for(gate), Credentials(expired, refresh)) as client:
            project = await client.get_project(unique("p"), create=True)
            renewed = client.credentials.token
    assert project["id"]
    assert renewed != expired
    assert client.credentials.expires_at is not None
    assert client.credentials.expires_at > time.time()
    assert all(expired not in repr(e) and refresh not in repr(e) and renewed not in repr(e)
               for e in events)


async def test_401_triggers_one_refresh_then_succeeds(gate: Any) -> None:
    """A token the gate rejects (401) is refreshed once and the request re-sent with the new one."""
    refresh = gate.mint_refresh_token(email=EMAIL, ttl=3600)
    async with DataloopClient(settings_for(gate), Credentials(forged_token(), refresh)) as client:
        project = await client.get_project(unique("p"), create=True)
    assert project["id"]


async def test_bad_refresh_token_is_an_auth_error(gate: Any) -> None:
    """When the refresh itself is refused the call fails with AuthError, not a retry loop."""
    expired = gate.mint_token(email=EMAIL, ttl=-120)
    gate.reset_stats()
    error, shown, _ = await fail_with(gate, Credentials(expired, forged_token()))
    assert "refresh" in str(error)
    assert gate.stats()["total"] <= 2
    assert expired not in shown


async def test_token_close_to_expiry_is_refreshed_ahead(gate: Any) -> None:
    """A token expiring within ``refresh_ahead`` is renewed before the request is sent."""
    soon = gate.mint_token(email=EMAIL, ttl=30)
    refresh = gate.mint_refresh_token(email=EMAIL, ttl=3600)
    settings = settings_for(gate, refresh_ahead=120.0)
    gate.reset_stats()
    async with DataloopClient(settings, Credentials(soon, refresh)) as client:
        await client.get_project(unique("p"), create=True)
        assert client.credentials.token != soon
    assert gate.stats()["by_status"].get("401", 0) == 0
