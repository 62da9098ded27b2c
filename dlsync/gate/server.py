"""Start and stop a gate: in the current event loop, as a context manager, or in its own thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from dlsync import logs
from dlsync.constants import GATE_HOST, GATE_REFRESH_TTL_S, GATE_TOKEN_TTL_S
from dlsync.gate.auth import TokenAuthority, load_secret, memory_secret
from dlsync.gate.behaviour import GateBehaviour
from dlsync.gate.blobs import BlobStore, DirectoryBlobs, MemoryBlobs
from dlsync.gate.context import API_PREFIX, GATE, GateContext
from dlsync.gate.faults import FaultInjector, FaultSettings, GateStats
from dlsync.gate.middleware import auth, errors, traffic
from dlsync.gate.recipes import RecipeStore
from dlsync.gate.routes import route_tables
from dlsync.gate.store import Store
from dlsync.gate.tasks import TaskStore
from dlsync.gate.users import UserStore

DATABASE_FILE = "gate.db"
BLOB_DIR = "blobs"
_MAX_BODY = 256 << 20
REFRESH_TTL_S = float(GATE_REFRESH_TTL_S)
_LOGGER = "dlsync.gate"


@dataclass(frozen=True)
class GateOptions:
    """Where a gate listens, where it keeps data (None: in memory), and how it misbehaves."""

    host: str = GATE_HOST
    port: int = 0
    data_dir: Path | None = None
    faults: FaultSettings = field(default_factory=FaultSettings)
    behaviour: GateBehaviour = field(default_factory=GateBehaviour)  # uncertain-contract guesses


def open_context(options: GateOptions) -> GateContext:
    """Store, blobs and token authority for ``options.data_dir`` (or in memory)."""
    blobs: BlobStore
    if options.data_dir is None:
        store, blobs, secret = Store(None, options.behaviour), MemoryBlobs(), memory_secret()
    else:
        options.data_dir.mkdir(parents=True, exist_ok=True)
        store = Store(options.data_dir / DATABASE_FILE, options.behaviour)
        blobs = DirectoryBlobs(options.data_dir / BLOB_DIR)
        secret = load_secret(options.data_dir)
    recipes = RecipeStore(store)
    return GateContext(store=store, blobs=blobs, tokens=TokenAuthority(secret),
                       faults=FaultInjector(options.faults), stats=GateStats(),
                       recipes=recipes, tasks=TaskStore(store, recipes, options.behaviour),
                       users=UserStore(options.data_dir))


def build_app(context: GateContext) -> web.Application:
    """The aiohttp application serving ``context``."""
    app = web.Application(middlewares=[traffic, errors, auth], client_max_size=_MAX_BODY)
    app[GATE] = context
    for table in route_tables():
        app.add_routes(table)
    return app


class RunningGate:
    """A gate that is listening; tests and benchmarks may seed data through ``store``."""

    def __init__(self, runner: web.AppRunner, context: GateContext, host: str, port: int) -> None:
        self._runner = runner
        self._context = context
        self.port = port
        self.root_url = f"http://{host}:{port}"
        self.url = self.root_url + API_PREFIX
        self.store: Store = context.store

    def mint_token(self, email: str = "tester@dlsync.test", ttl: float = GATE_TOKEN_TTL_S) -> str:
        """An access token this gate accepts."""
        return self._context.tokens.mint(email, ttl)

    def mint_refresh_token(self, email: str = "tester@dlsync.test",
                           ttl: float = REFRESH_TTL_S) -> str:
        """A refresh token this gate exchanges at ``POST {root_url}/token?default``."""
        return self._context.tokens.mint(email, ttl, refresh=True)

    def add_user(self, email: str, password: str) -> bool:
        """Let ``email`` log in with ``password``; True if new, False if its password changed."""
        return self._context.users.add(email, password)

    def set_faults(self, faults: FaultSettings) -> None:
        """Switch to ``faults`` from the next request on."""
        self._context.faults.set(faults)

    def stats(self) -> dict[str, Any]:
        """Request counts, as ``GET /__gate__/stats`` reports them."""
        return self._context.stats.to_json()

    def reset_stats(self) -> None:
        """Start counting requests from zero."""
        self._context.stats.reset()

    async def close(self) -> None:
        """Stop listening and close the store."""
        await self._runner.cleanup()
        self._context.store.close()


async def start_gate(options: GateOptions | None = None) -> RunningGate:
    """Start a gate in the running event loop."""
    options = options or GateOptions()
    context = open_context(options)
    runner = web.AppRunner(build_app(context), access_log=None, handle_signals=False)
    try:
        await runner.setup()
        site = web.TCPSite(runner, options.host, options.port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        context.store.close()
        raise
    port = int(runner.addresses[0][1])
    logs.get_logger(_LOGGER).debug("gate started", host=options.host, port=port,
               data=str(options.data_dir) if options.data_dir else "memory")
    return RunningGate(runner, context, options.host, port)


@contextlib.asynccontextmanager
async def running_gate(options: GateOptions | None = None) -> AsyncIterator[RunningGate]:
    """A gate for the duration of the ``async with`` block."""
    gate = await start_gate(options)
    try:
        yield gate
    finally:
        await gate.close()


class GateThread:
    """A gate on its own event loop in a daemon thread, for blocking clients such as dtlpy."""

    def __init__(self, options: GateOptions | None = None) -> None:
        self._options = options or GateOptions()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="dlsync-gate",
                                        daemon=True)
        self._gate: RunningGate | None = None

    def __enter__(self) -> RunningGate:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(start_gate(self._options), self._loop)
        self._gate = future.result(timeout=30)
        return self._gate

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._gate is not None:
            asyncio.run_coroutine_threadsafe(self._gate.close(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()
