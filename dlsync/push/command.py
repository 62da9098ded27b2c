"""``dlsync mirror``: one cycle of one sync pair, with a progress bar, a plan and a summary.

The pair comes from command-line flags alone, or from ``--config FILE --pair NAME`` with flags
overriding. The run holds the pair's lock, so overlapping scheduled runs cannot collide.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from dlsync import logs, loops
from dlsync.config import Config, PairConfig, load_config, merge_overrides, pair_from_flags
from dlsync.errors import EXIT_OK, EXIT_PARTIAL, EXIT_SAFETY, UsageError
from dlsync.interrupt import until_signalled
from dlsync.pairs import PairContext, pair_spec
from dlsync.priority import Applied
from dlsync.progress import ProgressDisplay
from dlsync.push.cycle import Cycle, CycleResult, RunOptions
from dlsync.push.plan import render_json, render_text
from dlsync.push.summary import render_summary
from dlsync.push.tally import Tally
from dlsync.remote.connect import connect
from dlsync.state.location import default_state_path, lock_path
from dlsync.state.lock import PairLock
from dlsync.state.store import StateStore

_log = logs.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class MirrorRequest:
    """Everything ``dlsync mirror`` was asked to do."""

    pair: PairConfig
    state: Path
    dry_run: bool = False
    as_json: bool = False
    gate_data: Path | None = None
    progress: bool | None = None
    backfill: bool = False          # --task-backfill: add synced items in no task, once
    full_listing: bool = False      # --full-listing: list every remote item of the folder
    priority: Applied | None = None  # the CPU priority the process runs at, for the summary


def build_pair(flags: dict[str, Any], *, config: Config | None, pair_name: str | None,
               rate: float | None = None, concurrency: int | None = None) -> PairConfig:
    """The pair to mirror: a config pair with flags over it, or one made of flags alone."""
    given = {k: v for k, v in flags.items() if v is not None}
    remotes = dict(config.remotes) if config else {}
    if pair_name is not None:
        if config is None or pair_name not in config.pairs:
            known = ", ".join(sorted(config.pairs)) if config else "none (no --config)"
            raise UsageError(f"no sync pair named {pair_name!r}; pairs in the config: {known}")
        pair = merge_overrides(config.pairs[pair_name], remotes=remotes, **given)
    else:
        for key in ("source", "project", "dataset"):
            if key not in given:
                flag = "SOURCE" if key == "source" else f"--{key}"
                raise UsageError(f"{flag} is required (or name a configured pair with --pair)")
        pair = pair_from_flags(remotes=remotes, **given)
    if rate is not None or concurrency is not None:
        remote = replace(pair.remote, rate=rate or pair.remote.rate,
                         concurrency=concurrency or pair.remote.concurrency)
        pair = replace(pair, remote=remote)
    return pair


def state_path_for(flag: Path | None, config: Config | None) -> Path:
    """``--state``, else the config's ``[state] path``, else the user's state directory."""
    return flag or (config.state if config and config.state else default_state_path())


def load_optional_config(path: Path | None) -> Config | None:
    """The config at ``path``, or ``None`` when no file was named."""
    return load_config(path) if path is not None else None


async def run_mirror(request: MirrorRequest, out: TextIO) -> int:
    """Run the mirror and print its plan or summary; return the exit code."""
    pair = request.pair
    if not pair.source.is_dir() and not request.state.exists():
        raise UsageError(f"source folder {pair.source} does not exist or is not a folder")
    with StateStore.open(request.state) as store, \
            PairLock(lock_path(request.state, pair.name), pair.name):
        pair_id = store.register_pair(pair_spec(pair, pair.remote.url))
        async with connect(pair.remote, gate_data=request.gate_data) as connection:
            options = RunOptions(dry_run=request.dry_run, backfill=request.backfill,
                                 full_listing=request.full_listing)
            tally = Tally()
            display = ProgressDisplay(tally, enabled=False if request.dry_run
                                      else request.progress)
            cycle = Cycle(PairContext(pair, connection.client, store, pair_id), options,
                          progress=display.on_job, tally=tally)
            with display:
                result = await cycle.run()
            stats = connection.client.pacer.stats()
            result.tally.concurrency = stats.concurrency
    _render(request, result, out, extra={
        "pair": pair.name, "remote": connection.url, "dataset_id": result.dataset_id,
        "remote_items_listed": result.remote_items, "requests_retried": stats.retries,
        "rate_limited": stats.rate_limited, "event_loop": loops.running(),
        "priority": request.priority.as_json() if request.priority else None,
        "listing": result.listing.as_json() if result.listing else None})
    return exit_code(result)


def _render(request: MirrorRequest, result: CycleResult, out: TextIO,
            extra: dict[str, Any]) -> None:
    if result.plan is not None:
        (render_json if request.as_json else render_text)(result.plan, out, result.limits)
        return
    render_summary(result.tally, out, title="dlsync mirror", extra=extra,
                   as_json=request.as_json)
    if result.listing is not None and not request.as_json:
        listing = result.listing
        out.write(f"  remote listing: {listing.kind.value}, {listing.listed} items listed "
                  f"of {listing.total} ({listing.reason})\n")


def exit_code(result: CycleResult) -> int:
    """0 in sync, 1 some items failed, 4 the safety limit stopped deletes."""
    if result.refused_by_limit:
        return EXIT_SAFETY
    if result.plan is not None:
        return EXIT_OK
    return EXIT_PARTIAL if result.tally.has_errors else EXIT_OK


def mirror_sync(request: MirrorRequest, out: TextIO | None = None) -> int:
    """``run_mirror`` from synchronous code (the command line)."""
    return loops.run(until_signalled, lambda: run_mirror(request, out or sys.stdout))
