"""``dlsync login`` and ``dlsync whoami``: a machine user's password login, and whose token runs.

``login`` exchanges an e-mail and a password for tokens as ``dl.login_m2m`` does and keeps them
in dlsync's login store (``dlsync.remote.logins``) under the remote's URL, with where the
password can be read again (a file or a systemd credential; a typed password is never kept).
``whoami`` finds the token the credential chain would use, asks the remote who it belongs to
(``GET /users/me``, refreshing first when it has expired) and prints that, the token's source,
its expiry and whether it can be renewed; never the token.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO

import aiohttp

from dlsync.config import RemoteConfig
from dlsync.errors import AuthError, UsageError
from dlsync.remote.chain import StoreRenewal, find_credentials
from dlsync.remote.client import DataloopClient
from dlsync.remote.connect import lookup_for, settings_for
from dlsync.remote.credentials import Credentials
from dlsync.remote.dtlpy_login import cookie_path
from dlsync.remote.logins import DLSYNC_LOGIN, PasswordSource, StoredLogin
from dlsync.remote.password import Tokens, password_login
from dlsync.remote.tls import client_tls


@dataclass(frozen=True, slots=True)
class LoginRequest:
    """Who logs in where: the remote (with its login store), the e-mail, the password source."""

    remote: RemoteConfig
    email: str
    source: PasswordSource | None
    """Where the password is read again for a new login; ``None``: typed at a prompt."""


def remote_named(name: str, remotes: Mapping[str, RemoteConfig]) -> RemoteConfig:
    """The remote a ``--remote`` value names: one of the config's remotes, or a URL."""
    if name in remotes:
        remote = remotes[name]
    elif name.startswith(("https://", "http://")):
        remote = RemoteConfig(name=name, url=name)
    else:
        raise UsageError(f"--remote {name!r} is neither a remote of the config nor a URL")
    if remote.is_local:
        raise UsageError("the embedded gate (remote \"local\") needs no login")
    return remote


async def login(request: LoginRequest, password: str, out: TextIO) -> int:
    """Log in with ``password`` and store the tokens; print what was stored where."""
    settings = settings_for(request.remote)
    lookup = lookup_for(request.remote, settings, os.environ)
    timeout = aiohttp.ClientTimeout(total=None, connect=settings.connect_timeout,
                                    sock_read=settings.stall_timeout)
    connector = aiohttp.TCPConnector(ssl=client_tls(settings.url, settings.ca_file,
                                                    verify=settings.verify_ssl))
    async with aiohttp.ClientSession(timeout=timeout, proxy=settings.proxy,
                                     connector=connector) as http:
        tokens = await password_login(http, settings.root_url, request.email, password)
    lookup.store.put(lookup.url, _stored(request, tokens))
    creds = Credentials(tokens.access, tokens.refresh, source=DLSYNC_LOGIN)
    out.write(f"Logged in to {lookup.url} as {creds.subject or request.email}; the token "
              f"expires {_when(creds.expires_at)}.\nSaved in {lookup.store.path} (mode 0600).\n")
    out.write(_renewal_sentence(tokens.refresh is not None, request.source) + "\n")
    return 0


def _stored(request: LoginRequest, tokens: Tokens) -> StoredLogin:
    return StoredLogin(token=tokens.access, refresh_token=tokens.refresh, origin=DLSYNC_LOGIN,
                       email=request.email, password=request.source)


def _renewal_sentence(refresh: bool, source: PasswordSource | None) -> str:
    if not refresh:
        return "The remote gave no refresh token: log in again when the token expires."
    if source is None:
        return ("The token is refreshed as needed; if the refresh token stops working, run "
                "`dlsync login` again (a typed password is never stored).")
    return (f"The token is refreshed as needed; if the refresh token stops working, dlsync "
            f"logs in again with the password from {source.describe()}.")


async def whoami(remote: RemoteConfig, out: TextIO, *, as_json: bool) -> int:
    """Print who the chain's token for ``remote`` belongs to; ``AuthError`` when none works."""
    settings = settings_for(remote)
    lookup = lookup_for(remote, settings, os.environ)
    found = find_credentials(lookup)
    if found is None:
        raise AuthError(f"no credentials for {lookup.url}: set $DLSYNC_TOKEN (or a token file or "
                        f"credential), run `dlsync login --remote {lookup.url}`, or log in with "
                        f"dtlpy (looked in {lookup.store.path} and {cookie_path(lookup.env)})")
    async with DataloopClient(settings, found) as client:
        user = await client.me()
        creds = client.credentials
    report = _report(lookup.url, user, creds)
    out.write(json.dumps(report, indent=2) + "\n" if as_json else _text(report))
    return 0


def _report(url: str, user: Mapping[str, Any], creds: Credentials) -> dict[str, Any]:
    renewal = creds.renewal
    return {
        "remote": url,
        "user": str(user.get("email") or user.get("id") or creds.subject or "?"),
        "source": creds.source,
        "expires_at": creds.expires_at,
        "refresh": creds.refresh_token is not None,
        "relogin": isinstance(renewal, StoreRenewal) and renewal.can_relogin,
    }


def _text(report: Mapping[str, Any]) -> str:
    renew = "yes" if report["refresh"] else "no (log in again when it expires)"
    if report["relogin"]:
        renew += "; a refused refresh token triggers a new login"
    return (f"remote:  {report['remote']}\nuser:    {report['user']}\n"
            f"token:   from {report['source']}\nexpires: {_when(report['expires_at'])}\n"
            f"refresh: {renew}\n")


def _when(expires_at: float | None) -> str:
    if expires_at is None:
        return "never (no exp claim)"
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(expires_at))
    left = expires_at - time.time()
    if left <= 0:
        return f"{stamp} (expired)"
    hours, minutes = divmod(int(left) // 60, 60)
    return f"{stamp} (in {hours} h {minutes} min)"

