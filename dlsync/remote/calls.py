"""``ClientCore``: what every client operation stands on: settings, pacer, session, one call.

The operation groups (``projects``, ``items``, ``transfer``, ``annotations``) are mixins of this
class; ``dlsync.remote.client.DataloopClient`` composes them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from dlsync.remote.bandwidth import Bandwidth
from dlsync.remote.credentials import Credentials
from dlsync.remote.pacer import Idempotency, Pacer
from dlsync.remote.session import BodyFactory, RemoteSession, Reply, Request
from dlsync.remote.settings import RemoteSettings
from dlsync.remote.stall import StallWatch

SAFE, UNSAFE = Idempotency.SAFE, Idempotency.UNSAFE


class ClientCore:
    """One remote: its settings, credentials, pacer, byte budget and connection pool."""

    def __init__(self, settings: RemoteSettings, credentials: Credentials, *,
                 pacer: Pacer | None = None) -> None:
        self.settings = settings
        self.pacer = pacer or Pacer(settings.pacer_settings())
        self.bandwidth = Bandwidth(settings.bwlimit)
        """The ``bwlimit`` budget every upload and download of this remote takes from."""
        self._session = RemoteSession(settings, credentials, self.pacer)

    @property
    def credentials(self) -> Credentials:
        """The credentials in use (after any refresh)."""
        return self._session.credentials

    async def _call(self, method: str, path: str, what: str, idem: Idempotency = SAFE,
                    **kw: Any) -> tuple[Reply, Request]:
        req = Request(method, path, what, idem, **kw)
        return await self._session.request(req), req


def form(fields: dict[str, str]) -> BodyFactory:
    """A body factory for a form-urlencoded body (small: it does not report progress)."""

    @asynccontextmanager
    async def body(watch: StallWatch) -> AsyncIterator[Any]:
        yield dict(fields)

    return body
