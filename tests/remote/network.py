"""Test-only network pieces: a forward proxy, a gate served over TLS, a server that never answers.

``ForwardProxy`` is what a corporate proxy does, in miniature: it takes absolute-form requests
(``GET http://host:port/path``) for http:// targets and ``CONNECT host:port`` tunnels for
https:// ones, and it is the only party that knows where the names it is asked for live
(``hosts``). A test points dlsync at ``http://gate.dlsync.test:PORT``: the ``.test`` name never
resolves (RFC 6761), so a request can only reach the gate through the proxy, and the loopback
rule (a loopback host is never proxied) does not apply to it. Nothing in dlsync knows about
the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from dlsync.gate.server import GateOptions, RunningGate, build_app, open_context

GATE_NAME = "gate.dlsync.test"
LOOPBACK = "127.0.0.1"


@dataclass
class ForwardProxy:
    """A forward proxy on loopback that counts what it was asked to do."""

    hosts: dict[str, str]
    requests: list[str] = field(default_factory=list)
    """``"GET http://..."`` or ``"CONNECT host:port"`` per request seen."""
    auth: list[str | None] = field(default_factory=list)
    server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://{LOOPBACK}:{self.server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
        headers = [line for line in lines[1:] if line]
        self.requests.append(f"{method} {target}")
        self.auth.append(next((h.split(":", 1)[1].strip() for h in headers
                               if h.lower().startswith("proxy-authorization:")), None))
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            up_reader, up_writer = await asyncio.open_connection(self.hosts.get(host, host),
                                                                 int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            rest, origin = _origin_form(target)
            host, _, port = rest.partition(":")
            up_reader, up_writer = await asyncio.open_connection(self.hosts.get(host, host),
                                                                 int(port or 80))
            kept = [h for h in headers if h.split(":", 1)[0].lower()
                    not in ("connection", "proxy-connection", "proxy-authorization")]
            forwarded = "\r\n".join([f"{method} {origin} {version}", *kept,
                                     "Connection: close", "", ""])
            up_writer.write(forwarded.encode("latin-1"))
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    async def __aenter__(self) -> ForwardProxy:
        self.server = await asyncio.start_server(self._serve, LOOPBACK, 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.server.wait_closed(), 2)


def _origin_form(target: str) -> tuple[str, str]:
    """``("host:port", "/path?q")`` from ``http://host:port/path?q``."""
    without_scheme = target.split("://", 1)[1]
    authority, slash, path = without_scheme.partition("/")
    return authority, slash + path


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


def self_signed(folder: Path, name: str = GATE_NAME) -> tuple[Path, Path] | None:
    """A certificate for ``name`` and its key, made with the openssl CLI; None without it."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}",
                    "-addext", f"subjectAltName=DNS:{name}"],
                   check=True, capture_output=True)
    return cert, key


@contextlib.asynccontextmanager
async def tls_gate(cert: Path, key: Path) -> AsyncIterator[RunningGate]:
    """An in-memory gate served over HTTPS on loopback; its ``port`` is what tests need."""
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    context = open_context(GateOptions())
    runner = web.AppRunner(build_app(context), access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, LOOPBACK, 0, ssl_context=server_tls).start()
    gate = RunningGate(runner, context, LOOPBACK, int(runner.addresses[0][1]))
    try:
        yield gate
    finally:
        await gate.close()


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[str]:
    """A server that accepts connections and reads nothing, ever: its ``http://`` base URL."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, LOOPBACK, 0)
    try:
        yield f"http://{LOOPBACK}:{server.sockets[0].getsockname()[1]}/api/v1"
    finally:
        for writer in held:
            writer.close()
        server.close()
