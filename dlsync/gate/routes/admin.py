"""``/__gate__``: read and change faults at runtime, read and reset request stats."""

from __future__ import annotations

from aiohttp import web

from dlsync.gate.context import ADMIN_PREFIX, API_PREFIX, gate_of
from dlsync.gate.refusal import bad_request
from dlsync.gate.routes.bodies import json_body, ok

routes = web.RouteTableDef()


async def get_faults(request: web.Request) -> web.Response:
    """The current fault settings."""
    return ok(gate_of(request).faults.settings.to_json())


async def set_faults(request: web.Request) -> web.Response:
    """Change the named fault settings; fields left out keep their values."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise bad_request("fault settings must be a JSON object")
    faults = gate_of(request).faults
    faults.set(faults.settings.updated(body))
    return ok(faults.settings.to_json())


async def get_stats(request: web.Request) -> web.Response:
    """Request counts since the start or the last reset."""
    return ok(gate_of(request).stats.to_json())


async def reset_stats(request: web.Request) -> web.Response:
    """Start counting from zero."""
    gate_of(request).stats.reset()
    return ok(gate_of(request).stats.to_json())


for _prefix in (ADMIN_PREFIX, API_PREFIX + ADMIN_PREFIX):
    routes.get(_prefix + "/faults")(get_faults)
    routes.post(_prefix + "/faults")(set_faults)
    routes.get(_prefix + "/stats")(get_stats)
    routes.post(_prefix + "/stats/reset")(reset_stats)
