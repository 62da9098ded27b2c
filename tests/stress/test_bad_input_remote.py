"""A remote that misbehaves on purpose: garbage replies for one route, lost create replies."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from dlsync.gate.faults import FaultSettings
from dlsync.gate.server import RunningGate
from dlsync.remote.client import DataloopClient
from dlsync.remote.credentials import Credentials
from dlsync.remote.settings import RemoteSettings
from tests.mirror.conftest import DATASET, PROJECT
from tests.stress.conftest import MirrorAt

GARBAGE = {
    "invalid JSON": (b"<html>502 Bad Gateway</html>", "text/html"),
    "wrong shape": (b'{"annotations": "not a list"}', "application/json"),
}


@dataclass
class Proxy:
    """Forwards to the gate, except annotation posts while ``garbage`` is set."""

    gate: RunningGate
    garbage: tuple[bytes, str] | None = None
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if (self.garbage is not None and request.method == "POST"
                and request.path.endswith("/annotations")):
            body, kind = self.garbage
            return web.Response(body=body, content_type=kind)
        target = self.gate.url.removesuffix("/api/v1") + request.path_qs
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in ("host", "content-length", "transfer-encoding")}
        async with aiohttp.ClientSession() as session, session.request(
                request.method, target, headers=headers, data=await request.read()) as reply:
            return web.Response(body=await reply.read(), status=reply.status,
                                content_type=reply.content_type)


@pytest.fixture
async def proxy(gate: RunningGate) -> AsyncIterator[Proxy]:
    found = Proxy(gate)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", found.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    found.url = f"http://127.0.0.1:{port}/api/v1"
    yield found
    await runner.cleanup()


def _tree(source: Path) -> None:
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        (source / name).write_bytes(name.encode() * 100)
    box = {"type": "box", "label": "car",
           "coordinates": [{"x": 1, "y": 2, "z": 0}, {"x": 5, "y": 6, "z": 0}]}
    (source / "b.jpg.json").write_text(json.dumps({"annotations": [box]}))


@pytest.mark.parametrize("garbage", list(GARBAGE))
async def test_garbage_reply_fails_its_item_names_the_call_and_the_rest_syncs(
        mirror_at: MirrorAt, proxy: Proxy, source: Path, garbage: str) -> None:
    """A reply that is not JSON or not the promised shape fails one item; a rerun completes."""
    _tree(source)
    proxy.garbage = GARBAGE[garbage]
    code, out, err = await mirror_at(proxy.url, "--create")
    assert code == 1, out + err
    assert "b.jpg" in out and "annotations" in out, out
    assert "a.jpg" not in out and "c.jpg" not in out, out
    proxy.garbage = None
    code, out, err = await mirror_at(proxy.url)
    assert code == 0, out + err
    token = proxy.gate.mint_token()
    settings = RemoteSettings(url=proxy.gate.url)
    async with DataloopClient(settings, Credentials(token=token, source="test")) as client:
        project = await client.get_project(PROJECT)
        dataset = (await client.get_dataset(project["id"], DATASET))["id"]
        items = {i["filename"]: i async for i in client.iter_items(dataset)}
        notes = [a async for a in client.iter_annotations(dataset, items["/b.jpg"]["id"])]
    assert sorted(items) == ["/a.jpg", "/b.jpg", "/c.jpg"]
    assert [a["label"] for a in notes] == ["car"]


async def test_dataset_create_whose_reply_is_lost_is_found_not_made_twice(
        gate: RunningGate) -> None:
    """The gate creates the dataset but drops the reply: the client finds it, one dataset."""
    token = gate.mint_token()
    async with DataloopClient(RemoteSettings(url=gate.url),
                              Credentials(token=token, source="test")) as client:
        project = await client.get_project("lost-replies", create=True)
        gate.set_faults(FaultSettings(drop_rate=1.0, drop_after_share=1.0,
                                      routes=("POST /datasets",)))
        made = await client.get_dataset(project["id"], "once", create=True)
        gate.set_faults(FaultSettings())
        again = await client.get_dataset(project["id"], "once")
    assert made["id"] == again["id"]
    assert gate.stats()["dropped_after"] == 1
