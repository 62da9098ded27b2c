"""``dlsync gate``: serve the local Dataloop-compatible gate, mint a token, or add a user."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click

from dlsync.constants import GATE_HOST, GATE_PORT, GATE_TOKEN_TTL_S
from dlsync.gate.auth import TokenAuthority, load_secret
from dlsync.gate.behaviour import GateBehaviour
from dlsync.gate.faults import FaultSettings
from dlsync.gate.users import UserStore, clean_email

if TYPE_CHECKING:
    from dlsync.gate.server import GateOptions

# dlsync.gate.server (aiohttp.web, the store, the routes) is imported where it is used: every
# ``dlsync`` command loads this module, and most never serve the gate.


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/dlsync/gate``, or ``~/.local/share/dlsync/gate``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "dlsync" / "gate"


@click.group()
def gate() -> None:
    """The local Dataloop-compatible gate (embedded default remote and test server)."""


async def _serve(options: GateOptions) -> None:
    from dlsync.gate.server import start_gate

    running = await start_gate(options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    where = f"data={options.data_dir}" if options.data_dir else "data=memory"
    if options.data_dir is None:
        where += f" token={running.mint_token()}"
    click.echo(f"dlsync gate listening on {running.url} {where}")
    try:
        await stop.wait()
    finally:
        await running.close()


@gate.command()
@click.option("--host", default=GATE_HOST, show_default=True, help="Address to bind.")
@click.option("--port", default=GATE_PORT, show_default=True, type=int,
              help="Port to listen on (0 picks a free one).")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the database, blobs and signing secret.")
@click.option("--memory", is_flag=True, help="Keep everything in memory (prints a token).")
@click.option("--rate-limit", type=float, help="Requests per second before answering 429.")
@click.option("--fail-rate", type=float, default=0.0, help="Share of requests answered 5xx.")
@click.option("--latency-ms", type=float, default=0.0, help="Delay added to every request.")
@click.option("--drop-rate", type=float, default=0.0,
              help="Share of requests whose connection is dropped without an answer.")
@click.option("--drop-after-share", type=float, default=0.5,
              help="Of the dropped requests, the share dropped after being applied.")
@click.option("--seed", type=int, help="Seed for the fault decisions.")
@click.option("--fail-first", type=int, default=0,
              help="Answer the first N attempts of each distinct request 503.")
@click.option("--behaviour", "behaviour_settings", multiple=True, metavar="KEY=VALUE",
              help="Answer the other way where the contract is uncertain, e.g. "
              "overwrite_keeps_id=false (repeatable; docs/gate.md).")
def serve(host: str, port: int, data_dir: Path | None, memory: bool, rate_limit: float | None,
          fail_rate: float, latency_ms: float, drop_rate: float, drop_after_share: float,
          seed: int | None, fail_first: int, behaviour_settings: tuple[str, ...]) -> None:
    """Serve the gate at http://HOST:PORT/api/v1 until SIGTERM or SIGINT."""
    if memory and data_dir is not None:
        raise click.UsageError("--data and --memory exclude each other")
    try:
        faults = FaultSettings(rate_limit=rate_limit, fail_rate=fail_rate, latency_ms=latency_ms,
                               drop_rate=drop_rate, drop_after_share=drop_after_share, seed=seed,
                               fail_first=fail_first)
        behaviour = GateBehaviour.from_settings(behaviour_settings)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    data = None if memory else (data_dir or default_data_dir())
    from dlsync.gate.server import GateOptions

    asyncio.run(_serve(GateOptions(host=host, port=port, data_dir=data, faults=faults,
                                   behaviour=behaviour)))


@gate.command()
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
              help="The data directory of the gate that must accept the token.")
@click.option("--email", default="tester@dlsync.test", show_default=True)
@click.option("--ttl", type=float, help="Lifetime in seconds (default: 1 day; refresh: 30 days).")
@click.option("--refresh", is_flag=True, help="Mint a refresh token instead of an access token.")
def token(data_dir: Path | None, email: str, ttl: float | None, refresh: bool) -> None:
    """Print a token that the gate serving DATA accepts, whether or not it is running."""
    tokens = TokenAuthority(load_secret(data_dir or default_data_dir()))
    from dlsync.gate.server import REFRESH_TTL_S

    lifetime = ttl if ttl is not None else (REFRESH_TTL_S if refresh else GATE_TOKEN_TTL_S)
    click.echo(tokens.mint(email, lifetime, refresh=refresh))


@gate.group()
def user() -> None:
    """Users who may log in to the gate with e-mail and password (dtlpy's ``login_m2m``)."""


@user.command("add")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
              help="The data directory of the gate the user logs in to.")
@click.option("--email", required=True, help="The user's e-mail address (the login name).")
@click.option("--password-file", required=True, type=click.File("r", encoding="utf-8"),
              help="File holding the password ('-' reads stdin); one final newline is dropped.")
def add_user(data_dir: Path | None, email: str, password_file: TextIO) -> None:
    """Add a user to the gate serving DATA, or replace the password of an existing one."""
    password = password_file.read().removesuffix("\n").removesuffix("\r")
    try:
        is_new = UserStore(data_dir or default_data_dir()).add(email, password)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(f"{'added user' if is_new else 'replaced the password of'} {clean_email(email)}")
