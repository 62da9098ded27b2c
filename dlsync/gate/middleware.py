"""The request pipeline around every handler: traffic (faults, stats, access log), errors, auth.

Order, outermost first: ``traffic`` decides faults and counts the final status; ``errors`` turns
every refusal into a ``{"message", "status"}`` JSON answer; ``auth`` admits only valid tokens.
Admin routes (``/__gate__``) are authenticated but exempt from faults and stats.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from dlsync import logs
from dlsync.gate.auth import BadToken
from dlsync.gate.context import ADMIN_PREFIX, API_PREFIX, USER, gate_of
from dlsync.gate.faults import INJECTED_ERROR, KEYED_BY_HANDLER, Verdict
from dlsync.gate.refusal import Refusal

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_LOGGER = "dlsync.gate"
CLIENT_CLOSED = 499
"""The status counted for a request whose client closed the connection before it was answered
(nginx's code): nothing reaches the client, the gate's stats show it."""


def route_key(request: web.Request) -> str:
    """Method plus route pattern without the API prefix, e.g. ``POST /datasets/{id}/items``."""
    resource = request.match_info.route.resource
    pattern = resource.canonical if resource is not None else "(unmatched)"
    return f"{request.method} {pattern.removeprefix(API_PREFIX)}"


def error_response(status: int, message: str) -> web.Response:
    """The JSON error answer."""
    return web.json_response({"message": message, "status": status}, status=status)


def _is_admin(request: web.Request) -> bool:
    return ADMIN_PREFIX in request.path


def _fault_response(verdict: Verdict) -> web.Response:
    response = error_response(
        verdict.status or 500,
        "rate limit exceeded" if verdict.status == 429 else INJECTED_ERROR,
    )
    if verdict.retry_after is not None:
        response.headers["Retry-After"] = str(verdict.retry_after)
    return response


def _drop(request: web.Request) -> web.Response:
    """Abort the connection; the returned answer can no longer be written and is discarded."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=500)


@web.middleware
async def traffic(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply faults to non-admin routes, count answers, and log one access event."""
    if _is_admin(request):
        return await handler(request)
    gate, key, started = gate_of(request), route_key(request), time.monotonic()
    verdict = Verdict()
    if gate.faults.applies_to(key):
        attempt = None if key in KEYED_BY_HANDLER else f"{request.method} {request.path}"
        verdict = await gate.faults.decide(attempt)
    if verdict.drop == "before":
        gate.stats.dropped("before")
        return _drop(request)
    if verdict.status is not None:
        response: web.StreamResponse = _fault_response(verdict)
    elif key in gate.faults.settings.forbid:
        response = error_response(403, f"access to {key} is forbidden for this user")
    else:
        response = await handler(request)
    if verdict.drop == "after":
        gate.stats.dropped("after")
        return _drop(request)
    gate.stats.answered(key, response.status)
    logs.get_logger(_LOGGER).debug("gate request", route=key, status=response.status,
               ms=round((time.monotonic() - started) * 1000, 2))
    return response


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer refusals and HTTP errors with a JSON body; log and answer 500 for bugs."""
    try:
        return await handler(request)
    except Refusal as refusal:
        return error_response(refusal.status, refusal.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, f"{exc.reason}: {request.method} {request.path}")
    except ConnectionError as exc:
        # the client went away mid-request (killed, timed out): routine for a sync gate, so one
        # debug event rather than aiohttp's traceback per request, which filled an unread pipe
        logs.get_logger(_LOGGER).debug("client closed the connection mid-request",
                                       route=route_key(request), error=str(exc))
        return error_response(CLIENT_CLOSED, "the client closed the connection")
    except Exception as exc:
        log = logs.get_logger(_LOGGER)
        log.exception("gate handler failed", route=route_key(request), error=exc)
        return error_response(500, f"internal gate error: {type(exc).__name__}")


@web.middleware
async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Admit API and admin requests only with a valid, unexpired bearer access token."""
    if not (request.path.startswith(API_PREFIX) or _is_admin(request)):
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refusal(401, "missing bearer token: send 'Authorization: Bearer <token>'")
    try:
        request[USER] = gate_of(request).tokens.verify_access(token.strip())
    except BadToken as exc:
        raise Refusal(401, f"unauthorized: {exc}") from exc
    return await handler(request)
