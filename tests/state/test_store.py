"""Synchronous writes and typed reads: ordering, lookups, annotations, runs, pair changes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlsync.errors import ProtocolError, StateError
from dlsync.model import FileStatus, RelPath, path_key, rel_path
from dlsync.state import DaemonInfo, StateReader, StateStore
from dlsync.state.ops import (
    AddAnnotations,
    DeleteFile,
    FinishRun,
    MarkFile,
    RemoveAnnotations,
    RunKind,
    RunOutcome,
    SetMeta,
    StartRun,
    UpsertFile,
    daemon_heartbeat,
    daemon_stopped,
)
from tests.state.samples import SPEC, TRICKY, paths, record, remote


def _sorted(names: list[str]) -> list[RelPath]:
    return sorted((rel_path(n) for n in names), key=path_key)


def test_files_stream_in_path_key_order(store: StateStore, pair: int, db_path: Path) -> None:
    """Files come back in path_key order ("a/b" before "a-c"), not in string order."""
    store.write(UpsertFile(pair, record(name)) for name in reversed(TRICKY))
    with StateReader(db_path) as reader:
        got = paths(reader.files(pair))
    assert got == _sorted(TRICKY)
    assert got.index(RelPath("a/b")) < got.index(RelPath("a-c"))


def test_remote_cache_streams_in_path_key_order(store: StateStore, pair: int,
                                                db_path: Path) -> None:
    """The remote cache comes back in path_key order with fingerprints intact."""
    store.replace_remote_items(pair, (remote(name, sha256=f"h{i}")
                                      for i, name in enumerate(TRICKY)))
    with StateReader(db_path) as reader:
        items = list(reader.remote_items(pair))
    assert paths(items) == _sorted(TRICKY)
    assert {i.path: i.fingerprint.sha256 for i in items if i.fingerprint} == {
        rel_path(name): f"h{i}" for i, name in enumerate(TRICKY)}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
                        min_size=1, max_size=12), unique=True, max_size=30))
def test_any_names_stream_in_path_key_order(tmp_path_factory: pytest.TempPathFactory,
                                            names: list[str]) -> None:
    """For arbitrary names, SQLite's BLOB order of keys equals Python's path_key order."""
    db = tmp_path_factory.mktemp("order") / "state.db"
    unique = list(dict.fromkeys(rel_path(n) for n in names if rel_path(n)))
    with StateStore.open(db) as store:
        pair = store.register_pair(SPEC)
        store.write(UpsertFile(pair, record(n)) for n in unique)
        with StateReader(db) as reader:
            assert paths(reader.files(pair)) == sorted(unique, key=path_key)


def test_record_round_trips_every_field(store: StateStore, pair: int, db_path: Path) -> None:
    """An upserted record reads back equal, annotation ids included."""
    rec = dataclasses.replace(record("x/y.jpg", item_id="it1"), annotations_hash="ah",
                              annotation_size=7, annotation_mtime_ns=9, attempts=2,
                              last_error="boom", annotation_ids=(("h1", "a1"), ("h2", "a2")))
    store.write([UpsertFile(pair, rec, next_attempt=5.0),
                 AddAnnotations(pair, "it1", rec.annotation_ids)])
    with StateReader(db_path) as reader:
        assert reader.file(pair, "x/y.jpg") == rec
        assert reader.annotation_ids(pair, "it1") == rec.annotation_ids


def test_mark_and_delete(store: StateStore, pair: int, db_path: Path) -> None:
    """MarkFile changes status and error only; DeleteFile forgets the path."""
    store.write([UpsertFile(pair, record("a", size=3)), UpsertFile(pair, record("b"))])
    store.write([MarkFile(pair, RelPath("a"), FileStatus.FAILED, attempts=1, error="HTTP 500"),
                 DeleteFile(pair, RelPath("b"))])
    with StateReader(db_path) as reader:
        a = reader.file(pair, "a")
        assert a is not None and (a.status, a.attempts, a.last_error, a.size) == (
            FileStatus.FAILED, 1, "HTTP 500", 3)
        assert reader.file(pair, "b") is None
        assert reader.status_counts(pair)[FileStatus.FAILED] == 1
        assert [(e.path, e.error) for e in reader.last_errors(pair)] == [("a", "HTTP 500")]


def test_annotations_add_and_remove(store: StateStore, pair: int, db_path: Path) -> None:
    """Only the removed annotation ids are forgotten; others on the item stay."""
    store.write([AddAnnotations(pair, "it", (("h1", "a1"), ("h2", "a2"), ("h3", "a3")))])
    store.write([RemoveAnnotations(pair, "it", ("a2",))])
    with StateReader(db_path) as reader:
        assert reader.annotation_ids(pair, "it") == (("h1", "a1"), ("h3", "a3"))


def test_move_candidates_by_content(store: StateStore, pair: int, db_path: Path) -> None:
    """files_with_content finds tracked files by sha256 and size, not by either alone."""
    store.write([UpsertFile(pair, record("old.jpg", sha256="abc", size=10)),
                 UpsertFile(pair, record("same-hash.jpg", sha256="abc", size=11)),
                 UpsertFile(pair, record("other.jpg", sha256="def", size=10))])
    with StateReader(db_path) as reader:
        assert paths(reader.files_with_content(pair, "abc", 10)) == ["old.jpg"]


def test_runs_record_start_and_finish(store: StateStore, pair: int, db_path: Path) -> None:
    """last_run reports the newest run of a kind, with outcome, counts and duration."""
    store.write([StartRun(pair, "r1", RunKind.RECONCILE, started=100.0)])
    store.write([FinishRun("r1", finished=130.0, outcome=RunOutcome.PARTIAL,
                           counts={"upload": 3}, bytes=42, error="2 items failed"),
                 StartRun(pair, "r2", RunKind.MIRROR, started=200.0)])
    with StateReader(db_path) as reader:
        last = reader.last_run(pair, RunKind.RECONCILE)
        going = reader.last_run(pair, RunKind.MIRROR)
        assert reader.last_run(pair, RunKind.PULL) is None
        assert [r.run_id for r in reader.recent_runs(pair)] == ["r2", "r1"]
    assert last is not None and going is not None
    assert (last.outcome, last.counts, last.bytes, last.duration) == (
        RunOutcome.PARTIAL, {"upload": 3}, 42, 30.0)
    assert (going.finished, going.outcome) == (None, None)


def test_meta_set_and_clear(store: StateStore, db_path: Path) -> None:
    """Meta values round-trip as JSON, None removes them, and the daemon heartbeat reads back."""
    store.write([SetMeta("note", [1, "two"]), daemon_heartbeat(1234, 99.5)])
    with StateReader(db_path) as reader:
        assert reader.meta("note") == [1, "two"]
        assert reader.daemon() == DaemonInfo(pid=1234, heartbeat=99.5)
        store.write([SetMeta("note", None), daemon_stopped()])
        assert reader.meta("note") is None and reader.daemon() is None


def test_changed_target_forgets_pair_state(store: StateStore, pair: int, db_path: Path) -> None:
    """Pointing a pair at another dataset drops its files and cache; a new source keeps them."""
    store.write([UpsertFile(pair, record("a"))])
    assert store.register_pair(dataclasses.replace(SPEC, source="/mnt/cameras")) == pair
    with StateReader(db_path) as reader:
        assert paths(reader.files(pair)) == ["a"]
        assert store.register_pair(dataclasses.replace(SPEC, dataset="other")) == pair
        assert paths(reader.files(pair)) == []


def test_failed_batch_records_nothing(store: StateStore, pair: int, db_path: Path) -> None:
    """A batch with one bad operation commits none of its operations."""
    with pytest.raises(StateError):
        store.write([UpsertFile(pair, record("good")), UpsertFile(999, record("orphan"))])
    with StateReader(db_path) as reader:
        assert paths(reader.files(pair)) == []


def test_duplicate_remote_path_keeps_previous_cache(store: StateStore, pair: int,
                                                    db_path: Path) -> None:
    """A listing naming one path twice is refused and the previous cache stays."""
    store.replace_remote_items(pair, [remote("keep")])
    with pytest.raises(ProtocolError, match="twice"):
        store.replace_remote_items(pair, [remote("dup", item_id="1"), remote("dup", item_id="2")])
    with StateReader(db_path) as reader:
        assert paths(reader.remote_items(pair)) == ["keep"]


def test_open_reader_does_not_block_the_writer(store: StateStore, pair: int,
                                               db_path: Path) -> None:
    """A reader mid-stream keeps its snapshot while the writer commits more rows."""
    store.write(UpsertFile(pair, record(f"f{i:03}")) for i in range(1200))
    with StateReader(db_path) as reader:
        stream = reader.files(pair)
        first = next(stream)
        store.write([UpsertFile(pair, record("g-new")), DeleteFile(pair, RelPath("f999"))])
        rest = list(stream)
        assert first.path == "f000" and len(rest) == 1199 and "g-new" not in paths(rest)
        assert "g-new" in paths(reader.files(pair))
