"""Token loading from env, file and systemd credentials; a token is never shown."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest

from dlsync import logs
from dlsync.errors import ConfigError
from dlsync.remote.credentials import Credentials, load_credentials


def make_token(**claims: object) -> str:
    return jwt.encode({"email": "a@example.com", "exp": int(time.time()) + 3600, **claims},
                      "not-the-gate-secret-but-long-enough-for-hs256", algorithm="HS256")


def test_env_token_wins_and_is_hidden() -> None:
    """DLSYNC_TOKEN is used first; repr and str show neither token, and logs mask both."""
    token, refresh = make_token(), "refresh-token-value-1234"
    creds = load_credentials({"DLSYNC_TOKEN": token, "DLSYNC_REFRESH_TOKEN": refresh})
    assert creds.token == token and creds.refresh_token == refresh
    for text in (repr(creds), str(creds), f"{creds}"):
        assert token not in text and refresh not in text
        assert "$DLSYNC_TOKEN" in text
    assert token not in logs.scrub(f"sent {token} and {refresh}")
    assert refresh not in logs.scrub(f"sent {token} and {refresh}")


def test_token_file_then_systemd_credential(tmp_path: Path) -> None:
    """A token file is read when no env token is set; else $CREDENTIALS_DIRECTORY/dlsync-token."""
    token = make_token()
    (tmp_path / "tok").write_text(token + "\n")
    creds = load_credentials({"DLSYNC_TOKEN_FILE": str(tmp_path / "tok")})
    assert creds.token == token and creds.refresh_token is None
    cred_dir = tmp_path / "creds"
    cred_dir.mkdir()
    (cred_dir / "dlsync-token").write_text(token)
    (cred_dir / "dlsync-refresh-token").write_text("refresh-from-systemd-1")
    creds = load_credentials({"CREDENTIALS_DIRECTORY": str(cred_dir)})
    assert creds.token == token
    assert creds.refresh_token == "refresh-from-systemd-1"
    assert "systemd credential" in creds.source


def test_missing_token_names_every_place_looked(tmp_path: Path) -> None:
    """No token anywhere is a ConfigError naming the env variable, the file and the credential."""
    with pytest.raises(ConfigError) as err:
        load_credentials({})
    message = str(err.value)
    assert "DLSYNC_TOKEN" in message and "dlsync-token" in message
    with pytest.raises(ConfigError, match="empty"):
        (tmp_path / "empty").write_text("\n")
        load_credentials({"DLSYNC_TOKEN_FILE": str(tmp_path / "empty")})


def test_expiry_and_email_read_without_verification() -> None:
    """``exp`` and ``email`` come from the JWT without its key; an opaque token has neither."""
    exp = int(time.time()) + 90
    creds = Credentials(make_token(exp=exp))
    assert creds.expires_at == exp
    assert creds.email == "a@example.com"
    opaque = Credentials("opaque-api-key-without-jwt-shape")
    assert opaque.expires_at is None and opaque.email is None
