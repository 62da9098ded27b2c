"""``POST /datasets/{id}/export`` and ``GET /commands/{id}``: dataset exports as finished commands.

The export is written before the answer (in a worker thread, so other requests go on), so the
command comes back with ``status: "success"`` and dtlpy's ``command.wait()`` returns at once.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from dlsync.gate import records
from dlsync.gate.context import API_PREFIX, base_url, gate_of, user_of
from dlsync.gate.exports import ExportJob, parse_spec, run_export
from dlsync.gate.routes.bodies import json_body, ok

routes = web.RouteTableDef()


@routes.post(API_PREFIX + "/datasets/{id}/export")
async def export(request: web.Request) -> web.Response:
    """Export the items a DQL ``itemsQuery`` matches, with their annotations; the command."""
    gate, dataset_id = gate_of(request), request.match_info["id"]
    gate.store.require_dataset(dataset_id)
    job = ExportJob(dataset_id=dataset_id, spec=parse_spec(await json_body(request)),
                    base=base_url(request), user=user_of(request).email,
                    requested_at=records.now_iso())
    output = await asyncio.to_thread(run_export, gate.store, gate.blobs, job)
    gate.exports.add(output)
    return ok(output.command_json(job.base))


@routes.get(API_PREFIX + "/commands/{id}")
async def command(request: web.Request) -> web.Response:
    """A command by id (exports are the only commands the gate runs)."""
    output = gate_of(request).exports.command(request.match_info["id"])
    return ok(output.command_json(base_url(request)))
