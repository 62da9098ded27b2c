"""Opening the state database: migrations, version checks, corruption, file modes, location."""

from __future__ import annotations

import dataclasses
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import pytest

from dlsync.errors import StateError
from dlsync.model import FileStatus
from dlsync.state import StateReader, StateStore, default_state_path
from dlsync.state.ops import UpsertFile
from dlsync.state.schema import MIGRATIONS, schema_version
from tests.state.samples import SPEC, record

TABLES = {"pairs", "files", "annotations", "remote_items", "runs", "meta", "task_items",
          "listings"}


def _tables(path: Path) -> dict[str, str]:
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT name, sql FROM sqlite_schema WHERE type = 'table'")
        return {name: sql for name, sql in rows}


def test_fresh_database_gets_every_migration(db_path: Path) -> None:
    """A new file ends at the latest schema version with every table STRICT and commented."""
    StateStore.open(db_path).close()
    tables = _tables(db_path)
    assert set(tables) == TABLES
    for sql in tables.values():
        assert "STRICT" in sql and "--" in sql.splitlines()[0]
    with closing(sqlite3.connect(db_path)) as conn:
        assert schema_version(conn) == len(MIGRATIONS)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopen_is_idempotent_and_keeps_data(db_path: Path) -> None:
    """Opening a current database again applies nothing and keeps what was written."""
    with StateStore.open(db_path) as store:
        first = store.register_pair(SPEC)
    with StateStore.open(db_path) as store:
        assert store.register_pair(SPEC) == first
    with StateReader(db_path) as reader:
        assert reader.pair_id(SPEC.name) == first


def test_newer_schema_is_refused(db_path: Path) -> None:
    """A database from a newer dlsync raises StateError naming the file and both versions."""
    StateStore.open(db_path).close()
    with closing(sqlite3.connect(db_path)) as conn, conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    with pytest.raises(StateError) as caught:
        StateStore.open(db_path)
    message = str(caught.value)
    assert str(db_path) in message and "newer" in message and "upgrade dlsync" in message


def test_corrupt_file_names_the_remedy(db_path: Path) -> None:
    """A file that is not a database raises StateError naming it and saying to move it aside."""
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not a database, just some bytes " * 200)
    with pytest.raises(StateError) as caught:
        StateStore.open(db_path)
    message = str(caught.value)
    assert str(db_path) in message and "move it aside" in message and "rebuild" in message


def test_database_files_are_private(db_path: Path) -> None:
    """The database and its -wal and -shm files are created mode 0600, its directory 0700."""
    with StateStore.open(db_path) as store:
        store.register_pair(SPEC)
        with StateReader(db_path) as reader:
            assert reader.pair_id(SPEC.name) is not None
            created = [db_path, db_path.with_name("state.db-wal"),
                       db_path.with_name("state.db-shm")]
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in created}
    assert modes == dict.fromkeys(modes, 0o600)
    assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700


def test_reader_of_missing_database_is_a_clear_error(db_path: Path) -> None:
    """Reading a database that does not exist says so instead of creating an empty one."""
    with pytest.raises(StateError, match="does not exist"):
        StateReader(db_path)
    assert not db_path.exists()


@pytest.mark.parametrize(("env", "expected"), [
    ({"STATE_DIRECTORY": "/var/lib/dlsync:/other", "XDG_STATE_HOME": "/x"},
     "/var/lib/dlsync/state.db"),
    ({"XDG_STATE_HOME": "/x", "HOME": "/home/u"}, "/x/dlsync/state.db"),
    ({"XDG_STATE_HOME": "relative", "HOME": "/home/u"}, "/home/u/.local/state/dlsync/state.db"),
    ({"HOME": "/home/u"}, "/home/u/.local/state/dlsync/state.db"),
])
def test_default_location(env: dict[str, str], expected: str) -> None:
    """systemd's STATE_DIRECTORY wins, then an absolute XDG_STATE_HOME, then ~/.local/state."""
    assert default_state_path(env) == Path(expected)


def test_schema_accepts_every_file_status(store: StateStore, pair: int) -> None:
    """The literal CHECK in the migrations lists every FileStatus the model defines."""
    store.write(UpsertFile(pair, record(f"f-{status}", status=status)) for status in FileStatus)


def test_a_version_2_database_gains_the_listing_table_and_keeps_its_rows(db_path: Path) -> None:
    """Migration 3 on a database an older dlsync wrote: the remote cache and files stay, the
    cache gains its item index, and no pair has a listing mark (its next listing is full)."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(db_path)) as conn:
        for version, script in enumerate(MIGRATIONS[:2], start=1):
            conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {version};\nCOMMIT;")
        conn.execute("INSERT INTO pairs (id, name, source, remote_url, project, dataset, "
                     "remote_dir) VALUES (1, 'p', '/src', 'local', 'P', 'D', '/')")
        conn.execute("INSERT INTO remote_items (pair, key, path, item_id, size) "
                     "VALUES (1, CAST('a' AS BLOB), 'a', 'i1', 3)")
        conn.commit()
    with StateStore.open(db_path) as store:
        assert store.register_pair(dataclasses.replace(
            SPEC, name="p", source="/src", remote_url="local", project="P", dataset="D",
            remote_dir="/")) == 1
    with StateReader(db_path) as reader:
        assert [item.item_id for item in reader.remote_items(1)] == ["i1"]
        assert reader.listing_mark(1) is None
    with closing(sqlite3.connect(db_path)) as conn:
        assert schema_version(conn) == len(MIGRATIONS) == 3
        indexes = {row[0] for row in conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'index'")}
    assert "remote_items_by_item" in indexes
