"""A sync pair as state knows it: its spec, and whether its roots may be synced now."""

from __future__ import annotations

from dataclasses import dataclass

from dlsync.config import PairConfig
from dlsync.local.roots import check_roots
from dlsync.remote.client import DataloopClient
from dlsync.state.queries import StateReader
from dlsync.state.store import PairSpec, StateStore


@dataclass(frozen=True, slots=True)
class PairContext:
    """One sync pair and what every run of it works against: the open client, the state
    database and the pair's id there."""

    pair: PairConfig
    client: DataloopClient
    store: StateStore
    pair_id: int


def pair_spec(pair: PairConfig, remote_url: str) -> PairSpec:
    """How state names ``pair``."""
    return PairSpec(name=pair.name, source=str(pair.source), remote_url=remote_url,
                    project=pair.project, dataset=pair.dataset, remote_dir=pair.remote_dir)


def check_pair_roots(pair: PairConfig, store: StateStore, pair_id: int) -> None:
    """``roots.check_roots`` for ``pair`` with what state tracks of it."""
    with StateReader(store.path) as reader:
        check_roots(pair, reader.tracked_kinds(pair_id))
