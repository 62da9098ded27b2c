"""``dlsync login`` against the gate's m2m endpoint, ``dlsync whoami``, and new logins by
themselves when a refresh token stops working."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import anyio.to_thread
import pytest
from click.testing import CliRunner

from dlsync import cli
from dlsync.errors import EXIT_AUTH
from dlsync.gate.server import RunningGate
from dlsync.remote.logins import LoginStore, PasswordSource, StoredLogin
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


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    """The machine user's password in a file of its own."""
    path = tmp_path / "password"
    path.write_text(PASSWORD + "\n")
    path.chmod(0o600)
    return path


async def test_login_with_a_password_file_then_mirror_and_whoami(
        gate: RunningGate, source: Path, state_path: Path, password_file: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """``dlsync login`` exchanges e-mail and password at ``POST /token?default``; the store (0600)
    keeps the tokens and the password file's path, never the password; mirror then runs on that
    login and whoami names the user and the source, and prints no token."""
    gate.add_user(EMAIL, PASSWORD)
    without_explicit_tokens(monkeypatch)
    gate.reset_stats()
    done = await run_cli(["login", "--remote", gate.url, "--email", EMAIL, "--password-file",
                          str(password_file), "--state", str(state_path)], capsys)
    assert done.code == 0, done.err
    assert token_requests(gate) == {"200": 1}
    store = login_store_path(state_path)
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert PASSWORD not in store.read_text()
    saved = stored_logins(state_path)[gate.url]
    assert saved["origin"] == "dlsync login" and saved["email"] == EMAIL
    assert saved["password"] == {"file": str(password_file)}
    assert saved["token"] not in done.out + done.err
    assert "logs in again with the password from file" in done.out

    (source / "a.jpg").write_bytes(b"image bytes")
    assert (await run_cli(mirror_argv(gate, source, state_path), capsys)).code == 0

    who = await run_cli(["whoami", "--remote", gate.url, "--state", str(state_path)], capsys)
    assert who.code == 0, who.err
    assert f"user:    {EMAIL}" in who.out and f"from dlsync login ({store})" in who.out
    assert "a refused refresh token triggers a new login" in who.out
    assert saved["token"] not in who.out and saved["refresh_token"] not in who.out
    as_json = await run_cli(["whoami", "--remote", gate.url, "--state", str(state_path),
                             "--json"], capsys)
    report = json.loads(as_json.out)
    assert report["user"] == EMAIL and report["refresh"] and report["relogin"]


async def test_a_wrong_password_and_no_credentials_exit_3(
        gate: RunningGate, state_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A refused login stores nothing and exits 3; whoami without any credentials exits 3."""
    gate.add_user(EMAIL, PASSWORD)
    without_explicit_tokens(monkeypatch)
    wrong = tmp_path / "wrong"
    wrong.write_text("not the password")
    done = await run_cli(["login", "--remote", gate.url, "--email", EMAIL, "--password-file",
                          str(wrong), "--state", str(state_path)], capsys)
    assert done.code == EXIT_AUTH and "refused the login" in done.err
    assert not login_store_path(state_path).exists()
    who = await run_cli(["whoami", "--remote", gate.url, "--state", str(state_path)], capsys)
    assert who.code == EXIT_AUTH and "no credentials" in who.err


async def test_a_prompted_password_is_never_stored(
        gate: RunningGate, state_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """E-mail and password typed at the prompt (the password hidden) log in; the store keeps
    no password and no password source."""
    gate.add_user(EMAIL, PASSWORD)
    without_explicit_tokens(monkeypatch)
    argv = ["login", "--remote", gate.url, "--state", str(state_path)]
    result = await anyio.to_thread.run_sync(
        lambda: CliRunner().invoke(cli.cli, argv, input=f"{EMAIL}\n{PASSWORD}\n"))
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    saved = stored_logins(state_path)[gate.url]
    assert saved["email"] == EMAIL and "password" not in saved
    assert PASSWORD not in login_store_path(state_path).read_text()
    assert "run `dlsync login` again" in result.output


def dead_login(gate: RunningGate, password: PasswordSource | None) -> StoredLogin:
    """A ``dlsync login`` whose access token and refresh token have both expired."""
    return StoredLogin(token=gate.mint_token(EMAIL, ttl=-60),
                       refresh_token=gate.mint_refresh_token(EMAIL, ttl=-60),
                       origin="dlsync login", email=EMAIL, password=password)


async def test_a_dead_refresh_token_logs_in_again_from_the_password_file(
        gate: RunningGate, source: Path, state_path: Path, password_file: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """When the refresh token is refused and the password came from a file, dlsync logs in
    again by itself, keeps the new tokens, and the mirror succeeds."""
    gate.add_user(EMAIL, PASSWORD)
    without_explicit_tokens(monkeypatch)
    store = LoginStore(login_store_path(state_path))
    dead = dead_login(gate, PasswordSource("file", str(password_file)))
    store.put(gate.url, dead)
    (source / "a.jpg").write_bytes(b"image bytes")
    gate.reset_stats()
    done = await run_cli(mirror_argv(gate, source, state_path), capsys)
    assert done.code == 0, done.err
    assert token_requests(gate) == {"401": 1, "200": 1}
    renewed = store.get(gate.url)
    assert renewed is not None and renewed.password == dead.password
    assert renewed.refresh_token not in (None, dead.refresh_token)


async def test_a_dead_refresh_token_of_a_prompted_login_stops_with_exit_3(
        gate: RunningGate, source: Path, state_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Without a stored password source, a refused refresh token stops the run with exit 3
    and a message that says to run ``dlsync login`` again."""
    without_explicit_tokens(monkeypatch)
    LoginStore(login_store_path(state_path)).put(gate.url, dead_login(gate, None))
    (source / "a.jpg").write_bytes(b"image bytes")
    done = await run_cli(mirror_argv(gate, source, state_path), capsys)
    assert done.code == EXIT_AUTH
    assert f"run `dlsync login --remote {gate.url}` again" in done.err


async def test_login_from_the_systemd_credential_logs_in_again_from_it(
        gate: RunningGate, source: Path, state_path: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --password-file, the password comes from ``$CREDENTIALS_DIRECTORY/dlsync-password``;
    the store names the credential, and a later new login reads it from there again."""
    gate.add_user(EMAIL, PASSWORD)
    without_explicit_tokens(monkeypatch)
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "dlsync-password").write_text(PASSWORD)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    done = await run_cli(["login", "--remote", gate.url, "--email", EMAIL,
                          "--state", str(state_path)], capsys)
    assert done.code == 0, done.err
    assert stored_logins(state_path)[gate.url]["password"] == {"credential": "dlsync-password"}
    store = LoginStore(login_store_path(state_path))
    store.put(gate.url, dead_login(gate, PasswordSource("credential", "dlsync-password")))
    (source / "a.jpg").write_bytes(b"image bytes")
    gate.reset_stats()
    assert (await run_cli(mirror_argv(gate, source, state_path), capsys)).code == 0
    assert token_requests(gate) == {"401": 1, "200": 1}
