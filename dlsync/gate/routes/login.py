"""The password login of ``POST {root}/token?default`` (``dl.login_m2m``, ``dl.login_secret``).

dtlpy sends ``{"username": <e-mail>, "password": ..., "type": "user_credentials"}`` and reads
``id_token`` (required) and ``refresh_token`` (kept for later refreshes). A wrong e-mail or
password is answered as Auth0, which the platform's token endpoint fronts, answers a failed
password grant: 403 with ``error: "invalid_grant"`` (plus the gate's ``message`` and ``status``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from dlsync.constants import GATE_REFRESH_TTL_S, GATE_TOKEN_TTL_S
from dlsync.gate.context import gate_of
from dlsync.gate.refusal import bad_request
from dlsync.gate.routes.bodies import ok

CREDENTIALS = "user_credentials"
WRONG_CREDENTIALS = "Wrong email or password."
_FORBIDDEN = 403


def refused() -> web.Response:
    """The answer to a wrong e-mail or password."""
    return web.json_response({
        "error": "invalid_grant", "error_description": WRONG_CREDENTIALS,
        "message": WRONG_CREDENTIALS, "status": _FORBIDDEN,
    }, status=_FORBIDDEN)


def tokens_for(request: web.Request, email: str) -> dict[str, Any]:
    """The token reply for a user who just logged in."""
    tokens = gate_of(request).tokens
    access = tokens.mint(email, GATE_TOKEN_TTL_S)
    return {
        "id_token": access, "access_token": access,
        "refresh_token": tokens.mint(email, GATE_REFRESH_TTL_S, refresh=True),
        "token_type": "Bearer", "expires_in": GATE_TOKEN_TTL_S,
    }


async def password_login(request: web.Request, body: dict[str, Any]) -> web.Response:
    """Check ``username`` and ``password`` against the gate's users and answer tokens or 403."""
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise bad_request("user_credentials login needs string 'username' and 'password'")
    users = gate_of(request).users
    email = await asyncio.to_thread(users.authenticate, username, password)
    if email is None:
        return refused()
    return ok(tokens_for(request, email))
