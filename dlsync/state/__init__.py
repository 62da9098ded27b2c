"""Sync state in SQLite: schema, migrations, typed queries, the single writer, the run lock.

    location   where the database lives by default, and the lock file of a pair
    schema     numbered migrations (PRAGMA user_version)
    database   opening connections; sqlite3 errors → StateError / DiskFullError
    ops        write operations as values
    apply      how each operation changes the tables
    store      the write connection: transactions, pair registration, remote cache
    queries    typed, streaming reads on a connection of their own
    writer     the single async writer task, batching commits
    lock       one run per sync pair at a time (flock)
"""

from dlsync.state.location import default_state_path, lock_path
from dlsync.state.lock import PairLock
from dlsync.state.queries import DaemonInfo, FileError, RunRecord, StateReader
from dlsync.state.store import PairSpec, StateStore
from dlsync.state.writer import StateWriter, running_writer

__all__ = [
    "DaemonInfo",
    "FileError",
    "PairLock",
    "PairSpec",
    "RunRecord",
    "StateReader",
    "StateStore",
    "StateWriter",
    "default_state_path",
    "lock_path",
    "running_writer",
]
