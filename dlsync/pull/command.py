"""``dlsync pull``: the platform's annotations (and, with ``--items``, its items) into the folder.

Like ``dlsync mirror``, the pair comes from flags or from ``--config FILE --pair NAME``, the run
holds the pair's lock, and the exit code says how it went: 0 in sync, 1 some items failed or are
in conflict (both versions kept), 2 usage, 3 authentication, 5 locked; SIGTERM or SIGINT stop
it with 128 + the signal number, every item already settled recorded.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from dlsync import loops
from dlsync.config import PairConfig
from dlsync.errors import EXIT_OK, EXIT_PARTIAL, UsageError
from dlsync.interrupt import until_signalled
from dlsync.pairs import PairContext, pair_spec
from dlsync.priority import Applied
from dlsync.pull.download import Fetch
from dlsync.pull.plan import render_plan_json, render_plan_text
from dlsync.pull.puller import Puller, PullOptions, PullResult
from dlsync.pull.tally import render_pull_summary
from dlsync.remote.client import DataloopClient
from dlsync.remote.connect import connect
from dlsync.state.location import lock_path
from dlsync.state.lock import PairLock
from dlsync.state.queries import StateReader
from dlsync.state.store import StateStore

FetchFactory = Callable[[DataloopClient], Fetch]
"""Builds the download function from the open client (a seam for tests; default: its download)."""


@dataclass(frozen=True, slots=True)
class PullRequest:
    """Everything ``dlsync pull`` was asked to do."""

    pair: PairConfig
    state: Path
    options: PullOptions
    as_json: bool = False
    gate_data: Path | None = None
    fetch: FetchFactory | None = None
    priority: Applied | None = None
    """The CPU priority the process runs at (``dlsync.priority``), for the summary."""


async def run_pull(request: PullRequest, out: TextIO) -> int:
    """Run the pull, print its summary, return the exit code."""
    pair = request.pair
    if not pair.source.is_dir() and not request.options.items and not request.state.exists():
        raise UsageError(f"source folder {pair.source} does not exist or is not a folder")
    with StateStore.open(request.state) as store, \
            PairLock(lock_path(request.state, pair.name), pair.name):
        pair_id = store.register_pair(pair_spec(pair, pair.remote.url))
        if request.options.items and not request.options.dry_run and \
                not _tracks_files(store, pair_id):
            pair.source.mkdir(parents=True, exist_ok=True)  # a checkout into a new folder
        async with connect(pair.remote, gate_data=request.gate_data) as connection:
            client = connection.client
            fetch = request.fetch(client) if request.fetch else None
            context = PairContext(pair, client, store, pair_id)
            result = await Puller(context, request.options, fetch=fetch).run()
    if result.plan is not None:
        (render_plan_json if request.as_json else render_plan_text)(result.plan, out)
        return exit_code(result)
    render_pull_summary(result.tally, out, {
        "pair": pair.name, "remote": connection.url, "dataset_id": result.dataset_id,
        "full": result.full, "dry_run": request.options.dry_run,
        "priority": request.priority.as_json() if request.priority else None},
        as_json=request.as_json)
    return exit_code(result)


def _tracks_files(store: StateStore, pair_id: int) -> bool:
    with StateReader(store.path) as reader:
        return reader.tracked_kinds(pair_id).files


def exit_code(result: PullResult) -> int:
    """0 in sync, 1 some items failed or are in conflict."""
    return EXIT_PARTIAL if result.has_problems else EXIT_OK


def pull_sync(request: PullRequest, out: TextIO | None = None) -> int:
    """``run_pull`` from synchronous code (the command line); SIGTERM/SIGINT end it with
    128 + the signal number, the items already settled recorded."""
    return loops.run(until_signalled, lambda: run_pull(request, out or sys.stdout))
