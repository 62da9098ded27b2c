"""The credential chain against a real gate: dtlpy's login, refreshed tokens kept and reused."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import anyio
import pytest

from dlsync.gate.server import RunningGate
from dlsync.remote.chain import Lookup, find_credentials
from dlsync.remote.dtlpy_login import cookie_path, dtlpy_credentials
from dlsync.remote.logins import LoginStore, StoredLogin
from dlsync.remote.settings import RemoteSettings
from dlsync.state.location import login_store_path
from tests.commands import run_cli
from tests.remote.accounts import (
    EMAIL,
    PASSWORD,
    mirror_argv,
    stored_logins,
    token_requests,
    without_explicit_tokens,
)

# dtlpy itself logs in (dl.login_m2m) and then swaps in an expired access token with its own
# setters, exactly as its refresh stores a new one: token first (which clears the refresh token),
# then the refresh token again.
DTLPY_LOGIN = """
import sys
import dtlpy as dl
url, root, email, password, expired = sys.argv[1:6]
dl.add_environment(environment=url, alias="dlsync-chain", gate_url=root, url=root + "/",
                   verify_ssl=False)
dl.setenv("dlsync-chain")
assert dl.login_m2m(email=email, password=password), "login_m2m failed"
refresh = dl.client_api.refresh_token
assert refresh
dl.client_api.token = expired
dl.client_api.refresh_token = refresh
"""


async def dtlpy_login(gate: RunningGate, env: dict[str, str], expired: str) -> None:
    """Run dtlpy in its own process (its cookie path is fixed at import) with ``env``."""
    argv = [sys.executable, "-c", DTLPY_LOGIN, gate.url, gate.root_url, EMAIL, PASSWORD, expired]
    done = await anyio.run_process(argv, env=env, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]


@pytest.mark.dtlpy
@pytest.mark.parametrize("where", ["DATALOOP_PATH", "HOME"])
async def test_dtlpy_login_is_used_refreshed_kept_and_reused(
        where: str, gate: RunningGate, source: Path, state_path: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """With only dtlpy's login (in ``$DATALOOP_PATH`` or ``~/.dataloop``), holding an expired
    access token and a valid refresh token, a mirror succeeds after one refresh; the new token
    lands in dlsync's store (0600) and not in dtlpy's cookie, and the next run refreshes nothing."""
    gate.add_user(EMAIL, PASSWORD)
    home = tmp_path / "home"
    home.mkdir()
    without_explicit_tokens(monkeypatch)
    monkeypatch.setenv("HOME", str(home))
    if where == "DATALOOP_PATH":
        monkeypatch.setenv("DATALOOP_PATH", str(tmp_path / "dataloop"))
    else:
        monkeypatch.delenv("DATALOOP_PATH")
    cookie = cookie_path(os.environ)
    assert cookie == (tmp_path / "dataloop" / "cookie.json" if where == "DATALOOP_PATH"
                      else home / ".dataloop" / "cookie.json")
    expired = gate.mint_token(EMAIL, ttl=-60)
    await dtlpy_login(gate, dict(os.environ), expired)
    written_by_dtlpy = cookie.read_bytes()
    entry = json.loads(written_by_dtlpy)["login_parameters"][gate.url]
    assert entry["token"] == expired and entry["refresh_token"]

    (source / "a.jpg").write_bytes(b"image bytes")
    gate.reset_stats()
    first = await run_cli(mirror_argv(gate, source, state_path), capsys)
    assert first.code == 0, first.err
    assert token_requests(gate) == {"200": 1}
    assert cookie.read_bytes() == written_by_dtlpy
    store = login_store_path(state_path)
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    saved = stored_logins(state_path)[gate.url]
    assert saved["origin"] == f"dtlpy login ({cookie})"
    assert saved["token"] != expired and saved["refresh_token"] == entry["refresh_token"]
    assert expired not in first.err and saved["token"] not in first.err + first.out

    (source / "b.jpg").write_bytes(b"more bytes")
    gate.reset_stats()
    second = await run_cli(mirror_argv(gate, source, state_path), capsys)
    assert second.code == 0, second.err
    assert token_requests(gate) == {}


async def test_explicit_refreshed_token_is_kept_and_wins_at_the_next_start(
        gate: RunningGate, source: Path, state_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """An expired ``$DLSYNC_TOKEN`` with ``$DLSYNC_REFRESH_TOKEN`` is refreshed once; the next
    run uses the kept token instead of the stale one; a new refresh token in the environment
    wins over the kept token again."""
    without_explicit_tokens(monkeypatch)
    refresh = gate.mint_refresh_token(EMAIL)
    monkeypatch.setenv("DLSYNC_TOKEN", gate.mint_token(EMAIL, ttl=-60))
    monkeypatch.setenv("DLSYNC_REFRESH_TOKEN", refresh)
    (source / "a.jpg").write_bytes(b"image bytes")
    gate.reset_stats()
    assert (await run_cli(mirror_argv(gate, source, state_path), capsys)).code == 0
    assert token_requests(gate) == {"200": 1}
    assert stored_logins(state_path)[gate.url]["origin"] == "$DLSYNC_TOKEN"
    gate.reset_stats()
    assert (await run_cli(mirror_argv(gate, source, state_path), capsys)).code == 0
    assert token_requests(gate) == {}
    monkeypatch.setenv("DLSYNC_REFRESH_TOKEN", gate.mint_refresh_token(EMAIL, ttl=7200))
    gate.reset_stats()
    assert (await run_cli(mirror_argv(gate, source, state_path), capsys)).code == 0
    assert token_requests(gate) == {"200": 1}


def test_dtlpy_cookie_is_matched_by_url_and_read_only(tmp_path: Path) -> None:
    """dtlpy's entry is found by its exact key (or with a trailing slash); other environments,
    an entry without a token and a half-written file give nothing; the file is left as it was."""
    url = "https://gate.example.test/api/v1"
    cookie = tmp_path / "cookie.json"
    cookie.write_text(json.dumps({"url": url, "login_parameters": {
        url + "/": {"alias": "x", "token": "access-token-value-1", "refresh_token": "rt-value-1"},
        "https://other.example.test/api/v1": {"token": "other-token-value"},
        "https://empty.example.test/api/v1": {"token": None, "refresh_token": None},
    }}, indent=2))
    before = cookie.read_bytes()
    env = {"DATALOOP_PATH": str(tmp_path)}
    found = dtlpy_credentials(url, env)
    assert found is not None and found.token == "access-token-value-1"
    assert found.refresh_token == "rt-value-1" and found.source.startswith("dtlpy login")
    assert dtlpy_credentials("https://empty.example.test/api/v1", env) is None
    assert dtlpy_credentials("https://unknown.example.test/api/v1", env) is None
    assert cookie.read_bytes() == before
    cookie.write_text('{"login_parameters": {"')
    assert dtlpy_credentials(url, env) is None


def test_order_explicit_then_dlsync_login_then_dtlpy(tmp_path: Path) -> None:
    """First found wins: the environment's token, then ``dlsync login``, then dtlpy's login."""
    url = "https://gate.example.test/api/v1"
    (tmp_path / "cookie.json").write_text(json.dumps(
        {"login_parameters": {url: {"token": "dtlpy-access-token", "refresh_token": None}}}))
    store = LoginStore(tmp_path / "state" / "logins.json")
    env = {"DATALOOP_PATH": str(tmp_path)}

    def found(env: dict[str, str]) -> str:
        lookup = Lookup(RemoteSettings(url=url), store, env)
        creds = find_credentials(lookup)
        assert creds is not None
        return creds.source

    assert found(env).startswith("dtlpy login")
    store.put(url, StoredLogin(token="dlsync-access-token", refresh_token="dlsync-refresh",
                               origin="dlsync login", email=EMAIL))
    assert found(env).startswith("dlsync login")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert found({**env, "DLSYNC_TOKEN": "env-access-token"}) == "$DLSYNC_TOKEN"
