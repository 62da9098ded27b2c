"""The credential chain: which token a remote is used with, and what a refresh leaves behind.

First found wins:

1. an explicit token: ``$DLSYNC_TOKEN``, the token file, the systemd credential
   (``dlsync.remote.credentials``);
2. dlsync's own login for the remote's URL (``dlsync login``; ``dlsync.remote.logins``);
3. dtlpy's login for the remote's URL (``cookie.json``; ``dlsync.remote.dtlpy_login``).

Whatever the source, a token with a refresh token is renewed when it expires, and the renewed
token is written to dlsync's login store under the remote's URL. At the next start it replaces
the stale token of source 1 or 3 as long as that source still holds the same refresh token (a
new login there wins again). A ``dlsync login`` whose password came from a file or a systemd
credential logs in again by itself when its refresh token stops working.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import anyio.to_thread

from dlsync import logs
from dlsync.errors import AuthError, ConfigError
from dlsync.remote.credentials import EXPLICIT_PLACES, Credentials, explicit_credentials
from dlsync.remote.dtlpy_login import cookie_path, dtlpy_credentials
from dlsync.remote.logins import DLSYNC_LOGIN, LoginStore, StoredLogin
from dlsync.remote.password import password_login
from dlsync.remote.settings import RemoteSettings

_log = logs.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Lookup:
    """Where to look for a remote's credentials: its settings, the login store, the env."""

    settings: RemoteSettings
    store: LoginStore
    env: Mapping[str, str]
    token_file: Path | None = None

    @property
    def url(self) -> str:
        """The remote's API base URL, the key of every stored login."""
        return self.settings.base_url


def find_credentials(lookup: Lookup) -> Credentials | None:
    """The first credentials the chain holds for the remote, or ``None``."""
    found = explicit_credentials(lookup.env, token_file=lookup.token_file)
    if found is not None:
        return _newest(lookup, found)
    stored = lookup.store.get(lookup.url)
    if stored is not None and stored.origin == DLSYNC_LOGIN:
        return _stored(lookup, stored, f"{DLSYNC_LOGIN} ({lookup.store.path})")
    found = dtlpy_credentials(lookup.url, lookup.env)
    return None if found is None else _newest(lookup, found)


def load_chain(lookup: Lookup) -> Credentials:
    """The credentials of the remote; ``ConfigError`` naming every place looked at."""
    found = find_credentials(lookup)
    if found is None:
        raise ConfigError(
            f"no credentials for {lookup.url}: set {EXPLICIT_PLACES}, run `dlsync login "
            f"--remote {lookup.url}`, or log in with dtlpy (looked in {lookup.store.path} and "
            f"{cookie_path(lookup.env)}); dlsync will not start")
    return found


def _newest(lookup: Lookup, found: Credentials) -> Credentials:
    """``found``, or the token dlsync renewed from the same refresh token when that is newer.

    A token without a refresh token is used as it is; the login store is not even read.
    """
    if found.refresh_token is None:
        return found
    stored = lookup.store.get(lookup.url)
    renewed = (stored is not None and stored.refresh_token == found.refresh_token
               and _expiry(stored.token) > _expiry(found.token))
    if stored is not None and renewed:
        return _stored(lookup, stored, f"{found.source}, refreshed ({lookup.store.path})")
    login = StoredLogin(token=found.token, refresh_token=found.refresh_token,
                        origin=found.source)
    return dataclasses.replace(found, renewal=StoreRenewal(lookup, login))


def _stored(lookup: Lookup, stored: StoredLogin, source: str) -> Credentials:
    return Credentials(token=stored.token, refresh_token=stored.refresh_token, source=source,
                       renewal=StoreRenewal(lookup, stored))


def _expiry(token: str) -> float:
    return Credentials(token).expires_at or 0.0


class StoreRenewal:
    """Keeps a remote's refreshed tokens in the login store; logs in again when it can."""

    def __init__(self, lookup: Lookup, login: StoredLogin) -> None:
        self.lookup = lookup
        self.login = login

    @property
    def can_relogin(self) -> bool:
        """Whether a refused refresh token is replaced by a new password login."""
        return self.login.origin == DLSYNC_LOGIN and self.login.password is not None

    async def keep(self, credentials: Credentials) -> None:
        """Write the refreshed token to the login store under the remote's URL."""
        self.login = dataclasses.replace(self.login, token=credentials.token,
                                         refresh_token=credentials.refresh_token, saved_at="")
        await anyio.to_thread.run_sync(self.lookup.store.put, self.lookup.url, self.login)
        _log.info("refreshed token saved", remote=self.lookup.url,
                  store=str(self.lookup.store.path))

    async def relogin(self, http: aiohttp.ClientSession, refused: AuthError) -> Credentials:
        """A new password login with the stored e-mail and the password re-read from its file
        or credential; an ``AuthError`` saying what to do when there is none."""
        login, url = self.login, self.lookup.url
        if login.origin != DLSYNC_LOGIN:
            raise _advice(refused, f"log in again where the token came from ({login.origin}) "
                                   f"or run `dlsync login --remote {url}`")
        if login.password is None or login.email is None:
            raise _advice(refused, "the password was typed at a prompt and is never stored: run "
                                   f"`dlsync login --remote {url}` again")
        password = login.password.read(self.lookup.env)
        _log.warning("the refresh token was refused; logging in again", remote=url,
                     email=login.email, password_from=login.password.describe())
        tokens = await password_login(http, self.lookup.settings.root_url, login.email, password)
        self.login = dataclasses.replace(login, token=tokens.access,
                                         refresh_token=tokens.refresh, saved_at="")
        await anyio.to_thread.run_sync(self.lookup.store.put, url, self.login)
        return Credentials(token=tokens.access, refresh_token=tokens.refresh,
                           source=f"{DLSYNC_LOGIN} ({self.lookup.store.path}), logged in again",
                           renewal=self)


def _advice(refused: AuthError, what: str) -> AuthError:
    return AuthError(f"{refused}; {what}", status=refused.status, method=refused.method,
                     url=refused.url)
