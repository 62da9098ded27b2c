"""Gate users: password logins at POST {root}/token, the users file, `dlsync gate user add`."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner

from dlsync.gate.commands import gate as gate_cli
from dlsync.gate.server import GateOptions, RunningGate
from dlsync.gate.users import USERS_FILE, UserStore, password_matches
from tests.conftest import GateFactory

PASSWORD = "correct horse battery staple"


async def _post_token(gate: RunningGate, body: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.post(
        gate.root_url + "/token?default", json=body
    ) as response:
        return response.status, await response.json()


def _credentials(email: str, password: str) -> dict[str, str]:
    return {"username": email, "password": password, "type": "user_credentials"}


async def _me(gate: RunningGate, token: str) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session, session.get(
        gate.url + "/users/me"
    ) as response:
        assert response.status == 200
        return await response.json()


async def test_password_login_answers_tokens_that_work(gate: RunningGate) -> None:
    """A right e-mail and password get id_token (an access token for that user) and a refresh
    token that the refresh flow accepts."""
    assert gate.add_user("Ann@Example.org", PASSWORD) is True
    status, body = await _post_token(gate, _credentials("ann@example.org", PASSWORD))
    assert status == 200, body
    assert body["access_token"] == body["id_token"] and body["token_type"] == "Bearer"
    assert (await _me(gate, body["id_token"]))["email"] == "ann@example.org"
    status, renewed = await _post_token(gate, {"type": "refresh_token",
                                               "refresh_token": body["refresh_token"]})
    assert status == 200 and (await _me(gate, renewed["id_token"]))["email"] == "ann@example.org"


@pytest.mark.parametrize(("email", "password"), [
    ("ann@example.org", "wrong password"), ("bob@example.org", PASSWORD), ("ann", PASSWORD),
    ("ann@example.org", ""),
], ids=["wrong-password", "unknown-user", "not-an-email", "empty-password"])
async def test_wrong_credentials_are_refused_with_403(
    gate: RunningGate, email: str, password: str
) -> None:
    """Any miss is answered alike: 403 invalid_grant "Wrong email or password.", no token."""
    gate.add_user("ann@example.org", PASSWORD)
    status, body = await _post_token(gate, _credentials(email, password))
    assert status == 403
    assert body == {"error": "invalid_grant", "error_description": "Wrong email or password.",
                    "message": "Wrong email or password.", "status": 403}


async def test_malformed_login_body_is_400(gate: RunningGate) -> None:
    """A user_credentials body without string username and password is a 400."""
    status, body = await _post_token(gate, {"type": "user_credentials", "username": 7})
    assert status == 400 and body["message"]


def test_users_file_is_private_and_holds_salted_hashes(tmp_path: Path) -> None:
    """users.json is mode 0600, holds no password, salts each hash; adding again replaces."""
    users = UserStore(tmp_path)
    assert users.add("a@x.org", PASSWORD) and users.add("b@x.org", PASSWORD)
    path = tmp_path / USERS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert PASSWORD not in path.read_text()
    stored = {u["email"]: u["password"] for u in json.loads(path.read_text())["users"]}
    assert stored["a@x.org"] != stored["b@x.org"]
    assert password_matches(PASSWORD, stored["a@x.org"])
    assert users.add("A@x.org", "another password") is False
    assert users.authenticate("a@x.org", PASSWORD) is None
    assert users.authenticate("a@x.org", "another password") == "a@x.org"
    assert users.emails() == ["a@x.org", "b@x.org"]


async def test_cli_adds_a_user_a_running_gate_accepts(
    gate_factory: GateFactory, tmp_path: Path
) -> None:
    """`dlsync gate user add` writes to DATA; a gate already serving DATA lets the user in."""
    data = tmp_path / "gate"
    running = await gate_factory(GateOptions(data_dir=data))
    secret = tmp_path / "password.txt"
    secret.write_text(PASSWORD + "\n")
    result = CliRunner().invoke(gate_cli, ["user", "add", "--data", str(data), "--email",
                                           "cli@example.org", "--password-file", str(secret)])
    assert result.exit_code == 0, result.output
    assert result.output == "added user cli@example.org\n"
    status, body = await _post_token(running, _credentials("cli@example.org", PASSWORD))
    assert status == 200 and (await _me(running, body["id_token"]))["email"] == "cli@example.org"


def test_cli_refuses_an_empty_password_or_bad_email(tmp_path: Path) -> None:
    """An empty password file or an address without '@' is a usage error; nothing is stored."""
    empty, good = tmp_path / "empty.txt", tmp_path / "good.txt"
    empty.write_text("\n")
    good.write_text(PASSWORD)
    for email, source in (("x@y.org", empty), ("nobody", good)):
        result = CliRunner().invoke(gate_cli, ["user", "add", "--data", str(tmp_path),
                                               "--email", email, "--password-file", str(source)])
        assert result.exit_code == 2 and "Error" in result.output
    assert not (tmp_path / USERS_FILE).exists()
