"""Fixtures for the state tests: a fresh database in a temporary directory, with one pair."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dlsync.state import StateStore
from tests.state.samples import SPEC


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the test's state database lives."""
    return tmp_path / "state" / "state.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[StateStore]:
    """An open store over a fresh database."""
    with StateStore.open(db_path) as opened:
        yield opened


@pytest.fixture
def pair(store: StateStore) -> int:
    """The id of the registered test pair."""
    return store.register_pair(SPEC)
