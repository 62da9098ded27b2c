"""Open a client for a configured remote: a real Dataloop environment or the embedded gate.

``remote = "local"`` starts the gate in this process, on the per-user data directory, and mints
a token for it, so a first run needs no account and no second terminal. A real remote's token
comes from the credential chain (``dlsync.remote.chain``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from dlsync import logs
from dlsync.config import RemoteConfig
from dlsync.remote.chain import Lookup, load_chain
from dlsync.remote.client import DataloopClient
from dlsync.remote.credentials import Credentials
from dlsync.remote.logins import LoginStore
from dlsync.remote.proxy import proxy_for
from dlsync.remote.settings import RemoteSettings
from dlsync.state.location import default_state_path, login_store_path

_log = logs.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Connection:
    """An open client and the URL it talks to (the gate's, for ``local``)."""

    client: DataloopClient
    url: str


def settings_for(remote: RemoteConfig, url: str | None = None,
                 env: Mapping[str, str] | None = None) -> RemoteSettings:
    """Client settings for ``remote`` (``url`` replaces its URL, e.g. the embedded gate's).

    The proxy comes from ``env`` (default: the process environment); a loopback URL, such as
    the embedded gate's, is never proxied.
    """
    target = url or remote.url
    return RemoteSettings(
        url=target, rate=remote.rate, burst=remote.burst, concurrency=remote.concurrency,
        stall_timeout=remote.stall_timeout, bwlimit=remote.bwlimit,
        blind_retry_max_size=remote.blind_retry_max_size, max_attempts=remote.max_attempts,
        max_total_wait=remote.max_total_wait, ca_file=remote.ca_file,
        verify_ssl=remote.verify_ssl,
        proxy=proxy_for(target, os.environ if env is None else env))


def lookup_for(remote: RemoteConfig, settings: RemoteSettings,
               env: Mapping[str, str] | None = None) -> Lookup:
    """Where the credential chain looks for ``remote``'s token (``dlsync.remote.chain``)."""
    env = os.environ if env is None else env
    store = remote.logins or login_store_path(default_state_path(env))
    return Lookup(settings=settings, store=LoginStore(store), env=env,
                  token_file=remote.token_file)


@asynccontextmanager
async def connect(remote: RemoteConfig, *, env: Mapping[str, str] | None = None,
                  gate_data: Path | None = None) -> AsyncIterator[Connection]:
    """A client for ``remote`` for the duration of the block.

    For the embedded gate, ``gate_data`` overrides its data directory (default: the per-user
    one that ``dlsync gate serve`` uses too).
    """
    if remote.is_local:
        async with _local(remote, gate_data) as connection:
            yield connection
        return
    settings = settings_for(remote, env=env)
    credentials = load_chain(lookup_for(remote, settings, env))
    async with DataloopClient(settings, credentials) as client:
        yield Connection(client, settings.base_url)


@asynccontextmanager
async def _local(remote: RemoteConfig, gate_data: Path | None) -> AsyncIterator[Connection]:
    from dlsync.gate.commands import default_data_dir
    from dlsync.gate.server import GateOptions, running_gate

    data = gate_data or default_data_dir()
    async with running_gate(GateOptions(data_dir=data)) as gate:
        _log.debug("embedded gate started", url=gate.url, data=str(data))
        credentials = Credentials(token=gate.mint_token(email="local@dlsync.local"),
                                  source="embedded gate")
        settings = settings_for(remote, gate.url)
        async with DataloopClient(settings, credentials) as client:
            yield Connection(client, gate.url)
