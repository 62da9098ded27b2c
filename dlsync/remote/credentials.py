"""Tokens given explicitly, and a value that never shows them.

An explicit token is looked up, first found wins, in: the ``DLSYNC_TOKEN`` environment variable,
the file named by ``DLSYNC_TOKEN_FILE`` (or passed in), and the systemd credential
``$CREDENTIALS_DIRECTORY/dlsync-token``. The optional refresh token follows the same order with
``DLSYNC_REFRESH_TOKEN``, ``DLSYNC_REFRESH_TOKEN_FILE`` and ``dlsync-refresh-token``. Every token
loaded is registered with ``dlsync.logs.register_secret`` so that no log line can show it.
These come first in the credential chain (``dlsync.remote.chain``); dlsync's own login and
dtlpy's login follow.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import jwt

from dlsync import constants, logs
from dlsync.errors import AuthError, ConfigError

if TYPE_CHECKING:
    import aiohttp

REFRESHED = " (refreshed)"


def token_claims(token: str) -> dict[str, Any]:
    """The JWT claims of ``token`` read without verification; ``{}`` when it is not a JWT."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


class Renewal(Protocol):
    """What happens around a token refresh: where the new token is kept, and whether a new
    password login may replace a refresh token that stopped working."""

    async def keep(self, credentials: Credentials) -> None:
        """Persist refreshed ``credentials`` so that the next start uses them."""

    async def relogin(self, http: aiohttp.ClientSession, refused: AuthError) -> Credentials:
        """Credentials from a new password login; raises an ``AuthError`` (``refused`` with
        what to do) when no new login is possible."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """An access token, an optional refresh token, and where they came from.

    ``repr`` and ``str`` show only the source and the expiry, never a token.
    """

    token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    source: str = "explicit"
    renewal: Renewal | None = field(default=None, repr=False, compare=False)
    claims: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        logs.register_secret(self.token)
        logs.register_secret(self.refresh_token)
        object.__setattr__(self, "claims", token_claims(self.token))

    def __repr__(self) -> str:
        refresh = "with refresh token" if self.refresh_token else "no refresh token"
        return f"Credentials(source={self.source!r}, expires_at={self.expires_at}, {refresh})"

    __str__ = __repr__

    @property
    def expires_at(self) -> float | None:
        """The token's ``exp`` claim (Unix seconds), or ``None`` when it has none."""
        exp = self.claims.get("exp")
        return float(exp) if isinstance(exp, int | float) else None

    @property
    def email(self) -> str | None:
        """The token's ``email`` claim, or ``None``."""
        email = self.claims.get("email")
        return email if isinstance(email, str) else None

    @property
    def subject(self) -> str | None:
        """Who the token speaks for: its ``email`` claim, else its ``sub``, else ``None``."""
        sub = self.claims.get("sub")
        return self.email or (sub if isinstance(sub, str) else None)

    def with_token(self, token: str) -> Credentials:
        """The same credentials with a new access token (after a refresh)."""
        source = self.source if self.source.endswith(REFRESHED) else self.source + REFRESHED
        return dataclasses.replace(self, token=token, source=source)


def _read_secret_file(path: Path, key: str) -> str:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read token file: {exc.strerror}; dlsync will not start",
                          key=key, source=str(path)) from None
    if not value:
        raise ConfigError("token file is empty; dlsync will not start", key=key,
                          source=str(path))
    return value


def _find(env: Mapping[str, str], env_key: str, file_key: str, credential: str,
          file: Path | None) -> tuple[str, str] | None:
    """(value, source) of the first place that holds the secret, or ``None``."""
    if env.get(env_key):
        return env[env_key].strip(), f"${env_key}"
    path = file or (Path(env[file_key]) if env.get(file_key) else None)
    if path is not None:
        return _read_secret_file(path, file_key), str(path)
    cred_dir = env.get("CREDENTIALS_DIRECTORY")
    if cred_dir and (Path(cred_dir) / credential).is_file():
        path = Path(cred_dir) / credential
        return _read_secret_file(path, credential), f"systemd credential {credential}"
    return None


def explicit_credentials(env: Mapping[str, str] | None = None, *,
                         token_file: Path | None = None,
                         refresh_token_file: Path | None = None) -> Credentials | None:
    """The token and refresh token from env, files or systemd; ``None`` when no token is set."""
    env = os.environ if env is None else env
    found = _find(env, constants.TOKEN_ENV, constants.TOKEN_FILE_ENV,
                  constants.TOKEN_CREDENTIAL, token_file)
    if found is None:
        return None
    refresh = _find(env, constants.REFRESH_TOKEN_ENV, constants.REFRESH_TOKEN_FILE_ENV,
                    constants.REFRESH_TOKEN_CREDENTIAL, refresh_token_file)
    return Credentials(token=found[0], refresh_token=refresh[0] if refresh else None,
                       source=found[1])


EXPLICIT_PLACES = (f"${constants.TOKEN_ENV}, ${constants.TOKEN_FILE_ENV}, the systemd credential "
                   f"{constants.TOKEN_CREDENTIAL}")


def load_credentials(env: Mapping[str, str] | None = None, *, token_file: Path | None = None,
                     refresh_token_file: Path | None = None) -> Credentials:
    """Load the token (required) and refresh token (optional) from env, files or systemd.

    Raises ``ConfigError`` naming every place looked at when no token is found.
    """
    found = explicit_credentials(env, token_file=token_file,
                                 refresh_token_file=refresh_token_file)
    if found is None:
        raise ConfigError(f"no remote token: set {EXPLICIT_PLACES}; dlsync will not start",
                          key=constants.TOKEN_ENV)
    return found
