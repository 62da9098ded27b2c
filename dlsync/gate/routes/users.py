"""``GET /users/me`` and ``POST {root}/token?default``: the refresh flow and password logins."""

from __future__ import annotations

from aiohttp import web

from dlsync.constants import GATE_TOKEN_TTL_S
from dlsync.gate.auth import BadToken
from dlsync.gate.context import API_PREFIX, gate_of, user_of
from dlsync.gate.refusal import Refusal, bad_request
from dlsync.gate.routes.bodies import json_body, ok
from dlsync.gate.routes.login import CREDENTIALS, password_login

routes = web.RouteTableDef()


@routes.get(API_PREFIX + "/users/me")
async def me(request: web.Request) -> web.Response:
    """The caller's user JSON."""
    return ok(user_of(request).to_json())


@routes.post("/token")
async def token(request: web.Request) -> web.Response:
    """Exchange a refresh token, or an e-mail and password, for tokens (``{"id_token": ...}``)."""
    body = await json_body(request)
    if isinstance(body, dict) and body.get("type") == CREDENTIALS:
        return await password_login(request, body)
    if not isinstance(body, dict) or body.get("type") != "refresh_token":
        raise bad_request("token body must have type refresh_token or user_credentials")
    refresh = body.get("refresh_token")
    if not isinstance(refresh, str) or not refresh:
        raise bad_request("token body is missing 'refresh_token'")
    tokens = gate_of(request).tokens
    try:
        user = tokens.verify_refresh(refresh)
    except BadToken as exc:
        raise Refusal(401, f"refresh refused: {exc}") from exc
    access = tokens.mint(user.email, GATE_TOKEN_TTL_S)
    return ok({"id_token": access, "access_token": access})
