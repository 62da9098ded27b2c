"""A password login, as dtlpy's ``dl.login_m2m`` makes it.

``POST {root}/token?default`` with ``{"username": <e-mail>, "password": ..., "type":
"user_credentials"}`` (dtlpy ``services/logins.py``, ``login_secret``); the reply's ``id_token``
is the access token (required), ``refresh_token`` the refresh token (optional). A refused
password (400/401/403) is an ``AuthError``; a 429 or 5xx is retryable like any other reply.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import aiohttp

from dlsync import logs
from dlsync.errors import AuthError, ProtocolError, TransportError
from dlsync.remote.pacer import Idempotency
from dlsync.remote.session import Request, status_error

TOKEN_PATH = "/token?default"
_REQUEST = Request("POST", TOKEN_PATH, "password login", Idempotency.SAFE)


@dataclass(frozen=True, slots=True)
class Tokens:
    """What a login answered: an access token and, usually, a refresh token."""

    access: str = field(repr=False)
    refresh: str | None = field(repr=False)


async def password_login(http: aiohttp.ClientSession, root_url: str, email: str,
                         password: str) -> Tokens:
    """Exchange ``email`` and ``password`` for tokens at ``{root_url}/token?default``."""
    body = {"username": email, "password": password, "type": "user_credentials"}
    try:
        async with http.post(root_url + TOKEN_PATH, json=body) as response:
            raw = await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise TransportError(f"{root_url}: password login failed: {type(exc).__name__}",
                             method="POST", url=TOKEN_PATH) from None
    if response.status in (400, 401, 403):
        raise AuthError(f"{root_url} refused the login of {email}: HTTP {response.status}: "
                        f"{_message(raw)}", status=response.status, method="POST",
                        url=TOKEN_PATH)
    if response.status != 200:
        raise status_error(response.status, _REQUEST, raw, response.headers, root_url)
    return _tokens(raw, root_url)


def _message(raw: bytes) -> str:
    try:
        body = json.loads(raw)
    except ValueError:
        return logs.scrub(raw[:200].decode("utf-8", "replace"))
    text = body.get("message") or body.get("error_description") if isinstance(body, dict) else None
    return logs.scrub(str(text or body)[:200])


def _tokens(raw: bytes, root_url: str) -> Tokens:
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    access = body.get("id_token") if isinstance(body, dict) else None
    if not isinstance(access, str) or not access:
        raise ProtocolError(f"{root_url}: the login reply has no id_token", method="POST",
                            url=TOKEN_PATH)
    refresh = body.get("refresh_token") if isinstance(body, dict) else None
    logs.register_secret(access)
    logs.register_secret(refresh if isinstance(refresh, str) else None)
    return Tokens(access, refresh if isinstance(refresh, str) and refresh else None)
