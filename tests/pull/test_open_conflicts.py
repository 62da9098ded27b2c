"""Mirror while a pull conflict is open, and ``pull --dry-run``: nothing decided behind the user."""

from __future__ import annotations

import json
from pathlib import Path

from dlsync.model import FileStatus, StateRecord
from dlsync.state.queries import StateReader
from tests.mirror.conftest import MirrorRun, Remote, writes
from tests.pull.conftest import PullRun, annotation_doc


def _write(path: Path, labels: list[str]) -> None:
    body = [{"type": "class", "label": label, "coordinates": []} for label in labels]
    path.write_text(json.dumps({"annotations": body}))


def _labels(path: Path) -> list[str]:
    return sorted(a["label"] for a in annotation_doc(path)["annotations"])


def _record(state_path: Path) -> StateRecord:
    with StateReader(state_path) as reader:
        record = reader.file(reader.pairs()[0][0], "x.jpg")
    assert record is not None
    return record


async def _in_conflict(mirror: MirrorRun, pull: PullRun, remote: Remote, source: Path) -> str:
    """``x.jpg`` synced with ``cat``; then ``dog`` added on the platform, ``owl`` locally, and a
    pull that leaves the conflict open. Returns the item id."""
    (source / "x.jpg").write_bytes(b"pixels")
    _write(source / "x.jpg.json", ["cat"])
    code, out, err = await mirror("--create")
    assert code == 0, out + err
    item_id = str((await remote.items())["/x.jpg"]["id"])
    await remote.annotate(item_id, "dog")
    _write(source / "x.jpg.json", ["cat", "owl"])
    code, out, err = await pull()
    assert code == 1, out + err
    return item_id


async def test_mirror_leaves_an_open_pull_conflict_alone(
        mirror: MirrorRun, pull: PullRun, remote: Remote, source: Path,
        state_path: Path) -> None:
    """conflict=keep-both: mirror reports the open conflict, exits 1 and pushes nothing."""
    item_id = await _in_conflict(mirror, pull, remote, source)
    copy = next(source.glob("x.jpg.conflict-*.json"))
    remote.gate.reset_stats()

    code, out, err = await mirror()
    assert code == 1, out + err
    assert "x.jpg" in out and "conflict" in out
    assert writes(remote.gate.stats()) == {}
    assert sorted(a["label"] for a in await remote.annotations(item_id)) == ["cat", "dog"]
    record = _record(state_path)
    assert record.status is FileStatus.CONFLICT
    assert record.last_error is not None and copy.name in record.last_error

    copy.unlink()                      # resolved as documented: the local file wins
    assert (await pull()).code == 0
    code, out, err = await mirror()
    assert code == 0, out + err
    assert sorted(a["label"] for a in await remote.annotations(item_id)) == \
        ["cat", "dog", "owl"]


async def test_mirror_with_conflict_local_pushes_over_an_open_pull_conflict(
        mirror: MirrorRun, pull: PullRun, remote: Remote, source: Path,
        state_path: Path) -> None:
    """conflict=local: mirror pushes the local file as a diff; others' annotations stay."""
    item_id = await _in_conflict(mirror, pull, remote, source)
    code, out, err = await mirror("--conflict", "local")
    assert code == 0, out + err
    assert sorted(a["label"] for a in await remote.annotations(item_id)) == \
        ["cat", "dog", "owl"]
    assert _record(state_path).status is FileStatus.SYNCED
    assert _labels(source / "x.jpg.json") == ["cat", "owl"]


async def test_pull_dry_run_reports_and_changes_nothing(
        mirror: MirrorRun, pull: PullRun, remote: Remote, source: Path,
        state_path: Path) -> None:
    """pull --dry-run prints its plan (one line per file it would write, the replacement
    of a local file marked as such); no file, platform or state change."""
    (source / "x.jpg").write_bytes(b"pixels")
    _write(source / "x.jpg.json", ["cat"])
    assert (await mirror("--create")).code == 0
    assert (await pull()).code == 0
    item_id = str((await remote.items())["/x.jpg"]["id"])
    await remote.annotate(item_id, "dog")
    before_file = (source / "x.jpg.json").read_bytes()
    before = _record(state_path)
    with StateReader(state_path) as reader:
        pair = reader.pairs()[0][0]
        runs_before = reader.recent_runs(pair)
        mark_before = reader.meta(f"pull-watermark/{pair}")
    remote.gate.reset_stats()

    code, out, err = await pull("--dry-run", "--json")
    assert code == 0, out + err
    plan = json.loads(out)
    assert [(a["kind"], a["path"]) for a in plan["actions"]] == [("replace", "x.jpg")]
    assert plan["actions"][0]["file"] == str(source / "x.jpg.json")
    assert plan["summary"] == {"counts": {"replace": 1}, "replaced": 1}
    code, text, err = await pull("--dry-run")
    assert code == 0, text + err
    assert text.splitlines()[0] == ("* x.jpg  (changed on the platform: x.jpg.json replaced)")
    assert (source / "x.jpg.json").read_bytes() == before_file
    assert writes(remote.gate.stats()) == {}
    assert _record(state_path) == before
    with StateReader(state_path) as reader:
        assert reader.recent_runs(pair) == runs_before
        assert reader.meta(f"pull-watermark/{pair}") == mark_before
    assert sorted(path.name for path in source.iterdir()) == ["x.jpg", "x.jpg.json"]
