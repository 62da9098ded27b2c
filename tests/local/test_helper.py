"""The read-ahead helper process: the same results as the planner thread, or none at all."""

from __future__ import annotations

import json
import os
from pathlib import Path

from dlsync.local.annotations import load_annotation_file
from dlsync.local.fingerprint import read_small
from dlsync.local.helper import ReadHelper
from dlsync.model import LocalEntry, RelPath

KEEP = 1024


def entry(root: Path, rel: str, annotation: Path | None = None) -> LocalEntry:
    st = (root / rel).stat()
    return LocalEntry(RelPath(rel), st.st_size, st.st_mtime_ns, st.st_ino,
                      annotation_path=str(annotation) if annotation else None)


def boxes(labels: list[str], scale: float = 1.0) -> str:
    return json.dumps({"annotations": [
        {"type": "box", "label": label, "id": f"server-{i}",
         "coordinates": [{"x": 1.0 * i * scale, "y": 2.5, "z": 0},
                         {"x": 10.0 + i, "y": 1e-5, "z": 0}],
         "metadata": {"system": {"createdAt": "x"}, "user": {"score": 0.5}}}
        for i, label in enumerate(labels)], "metadata": {"user": {"batch": 3.0}}})


def test_the_helper_reads_what_the_planner_thread_would(tmp_path: Path) -> None:
    """Fingerprints, kept bytes (only up to ``keep``) and canonical annotations all match."""
    root, ann = tmp_path / "data", tmp_path / "ann"
    root.mkdir()
    ann.mkdir()
    entries = []
    for i in range(70):    # more than one frame of requests
        size = KEEP * 3 if i % 10 == 0 else 100 + i
        (root / f"f{i}.jpg").write_bytes(bytes([i % 256]) * size)
        (ann / f"f{i}.json").write_text(boxes(["cat", "dog"][: i % 3], scale=i))
        entries.append(entry(root, f"f{i}.jpg", ann / f"f{i}.json"))
    helper = ReadHelper(root, KEEP)
    try:
        assert all(helper.submit(e, e.annotation_path) for e in entries)
        results = [helper.take() for _ in entries]
    finally:
        helper.close()
    assert helper.answered == len(entries) and helper.failure is None
    for e, got in zip(entries, results, strict=True):
        assert got.read == read_small(root, e, KEEP)
        assert (got.read is not None) and (got.read.content is None) == (e.size > KEEP)
        assert e.annotation_path is not None
        wanted = load_annotation_file(e.annotation_path)
        assert got.annotations is not None
        assert got.annotations.set_hash == wanted.set_hash
        assert [(a.canonical, a.hash, a.body) for a in got.annotations.annotations] == \
            [(a.canonical, a.hash, a.body) for a in wanted.annotations]
        assert got.annotations.user_metadata == wanted.user_metadata


def test_what_the_helper_cannot_use_is_left_to_the_planner(tmp_path: Path) -> None:
    """A malformed annotation file, a vanished file and a changed one come back empty, so the
    planner thread reads them again and reports them exactly as without the helper."""
    (tmp_path / "ok.jpg").write_bytes(b"fine")
    (tmp_path / "gone.jpg").write_bytes(b"soon gone")
    (tmp_path / "moving.jpg").write_bytes(b"before")
    (tmp_path / "bad.json").write_text('{"annotations": [\n  {"type": "box",}\n]}')
    ok = entry(tmp_path, "ok.jpg", tmp_path / "bad.json")
    gone, moving = entry(tmp_path, "gone.jpg"), entry(tmp_path, "moving.jpg")
    os.remove(tmp_path / "gone.jpg")
    (tmp_path / "moving.jpg").write_bytes(b"after, and longer")
    helper = ReadHelper(tmp_path, KEEP)
    try:
        for e in (ok, gone, moving):
            assert helper.submit(e, e.annotation_path)
        got_ok, got_gone, got_moving = helper.take(), helper.take(), helper.take()
    finally:
        helper.close()
    assert got_ok.read is not None and got_ok.read.content == b"fine"
    assert got_ok.annotations is None
    assert got_gone.read is None and got_moving.read is None


def test_a_helper_that_ends_leaves_every_later_file_to_the_planner(tmp_path: Path) -> None:
    """The child killed mid-walk: what it answered is kept, the rest comes back empty, nothing
    more is submitted, and the failure says what happened."""
    entries = []
    for i in range(40):
        (tmp_path / f"f{i}").write_bytes(b"x" * (i + 1))
        entries.append(entry(tmp_path, f"f{i}"))
    helper = ReadHelper(tmp_path, KEEP)
    try:
        for e in entries[:32]:              # one full frame, sent at once
            assert helper.submit(e, None)
        first = helper.take()
        assert first.read == read_small(tmp_path, entries[0], KEEP)
        for e in entries[32:]:
            assert helper.submit(e, None)   # queued in a frame not sent yet
        assert helper._proc is not None
        helper._proc.kill()
        helper._proc.wait()
        rest = [helper.take() for _ in entries[1:]]
        assert not helper.submit(entries[0], None)
    finally:
        helper.close()
    answered = [r for r in rest if r.read is not None]
    assert all(r.read == read_small(tmp_path, e, KEEP)
               for e, r in zip(entries[1:], rest, strict=True) if r.read is not None)
    assert len(answered) == 31              # the first frame was answered before the kill
    assert [r.read for r in rest[31:]] == [None] * 8
    assert helper.failure is not None and "exit code" in helper.failure
