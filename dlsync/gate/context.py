"""What every route handler reaches through the aiohttp app: the parts of one running gate."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from dlsync.gate.auth import TokenAuthority, User
from dlsync.gate.blobs import BlobStore
from dlsync.gate.exports import ExportRegistry
from dlsync.gate.faults import FaultInjector, GateStats
from dlsync.gate.recipes import RecipeStore
from dlsync.gate.store import Store
from dlsync.gate.tasks import TaskStore
from dlsync.gate.users import UserStore

API_PREFIX = "/api/v1"
ADMIN_PREFIX = "/__gate__"


@dataclass(frozen=True)
class GateContext:
    """The parts of one running gate."""

    store: Store
    blobs: BlobStore
    tokens: TokenAuthority
    faults: FaultInjector
    stats: GateStats
    recipes: RecipeStore
    tasks: TaskStore
    users: UserStore = field(default_factory=UserStore)
    exports: ExportRegistry = field(default_factory=ExportRegistry)


GATE = web.AppKey("gate", GateContext)
USER = web.RequestKey("user", User)


def gate_of(request: web.Request) -> GateContext:
    """The gate serving ``request``."""
    return request.app[GATE]


def user_of(request: web.Request) -> User:
    """The authenticated caller of ``request`` (set by the auth middleware)."""
    user: User = request[USER]
    return user


def base_url(request: web.Request) -> str:
    """The API base URL as the caller reached it, e.g. ``http://127.0.0.1:8765/api/v1``."""
    return f"{request.scheme}://{request.host}{API_PREFIX}"
