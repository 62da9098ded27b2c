"""Renames become moves; deletes are opt-in, run last and stay within the safety limits."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

from dlsync.gate.server import RunningGate
from tests.mirror.conftest import DATASET, PROJECT, MirrorRun, Remote, labels, uploads, writes

CAT = '{"annotations": [{"type": "class", "label": "cat"}]}'


def _tracked_files(state_path: Path) -> list[tuple[object, ...]]:
    """Every file record and run record in the state database."""
    with closing(sqlite3.connect(state_path)) as db:
        return [*db.execute("SELECT * FROM files ORDER BY path"),
                *db.execute("SELECT * FROM runs ORDER BY started")]


def _files(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(name.encode())


async def test_renamed_file_and_folder_keep_their_items(
        mirror: MirrorRun, remote: Remote, gate: RunningGate, source: Path) -> None:
    """A file rename and a folder rename move the items: same ids, no upload, annotations kept.

    The one ``POST /datasets/{id}/items`` allowed is the new folder's dir item (the bulk move
    endpoint needs its id); no file content is sent.
    """
    _files(source, "one.jpg", "old/a.jpg", "old/b.jpg")
    (source / "one.jpg.json").write_text(CAT)
    (source / "old/a.jpg.json").write_text(CAT)
    assert (await mirror("--create"))[0] == 0
    before = {name: item["id"] for name, item in (await remote.items()).items()}
    (source / "one.jpg").rename(source / "uno.jpg")
    (source / "one.jpg.json").rename(source / "uno.jpg.json")
    (source / "old").rename(source / "new")
    gate.reset_stats()
    code, out, err = await mirror()
    assert code == 0, out + err
    after = {name: item["id"] for name, item in (await remote.items()).items()}
    assert after == {"/uno.jpg": before["/one.jpg"], "/new/a.jpg": before["/old/a.jpg"],
                     "/new/b.jpg": before["/old/b.jpg"]}
    assert uploads(gate.stats()) == 1
    assert "0 B sent" in out
    assert labels(await remote.annotations(after["/uno.jpg"])) == ["cat"]
    assert labels(await remote.annotations(after["/new/a.jpg"])) == ["cat"]


async def test_local_delete_keeps_the_remote_item_unless_deletes_are_on(
        mirror: MirrorRun, remote: Remote, source: Path) -> None:
    """Without --delete a removed file's item stays; with --delete it is removed."""
    _files(source, "a.txt", "b.txt", "c.txt")
    assert (await mirror("--create"))[0] == 0
    (source / "a.txt").unlink()
    code, out, err = await mirror()
    assert code == 0, out + err
    assert "/a.txt" in await remote.items()
    code, out, err = await mirror("--delete")
    assert code == 0, out + err
    assert sorted(await remote.items()) == ["/b.txt", "/c.txt"]


async def test_more_deletes_than_max_delete_deletes_nothing(
        mirror: MirrorRun, remote: Remote, gate: RunningGate, source: Path) -> None:
    """Over --max-delete: every delete refused, exit 4, the items all still there."""
    _files(source, *(f"f{i}.txt" for i in range(6)))
    assert (await mirror("--create"))[0] == 0
    for i in range(3):
        (source / f"f{i}.txt").unlink()
    gate.reset_stats()
    code, out, err = await mirror("--delete", "--max-delete", "2")
    assert code == 4, out + err
    assert "max_delete=2" in out
    assert len(await remote.items()) == 6
    assert not any(route.startswith("DELETE") for route in writes(gate.stats()))


async def test_deleting_over_half_needs_an_explicit_limit(
        mirror: MirrorRun, remote: Remote, source: Path, tmp_path: Path) -> None:
    """Deleting most tracked files is refused (exit 4) until max_delete is set, by flag or file."""
    config = tmp_path / "dlsync.toml"
    pair = f'[pairs.scenario]\nsource = "{source}"\nproject = "{PROJECT}"\n' \
        f'dataset = "{DATASET}"\n'
    config.write_text(pair)
    by_config = ("--config", str(config), "--pair", "scenario")
    _files(source, "a.txt", "b.txt", "c.txt", "d.txt")
    assert (await mirror("--create", *by_config))[0] == 0
    for name in ("a.txt", "b.txt", "c.txt"):
        (source / name).unlink()
    code, out, err = await mirror("--delete", *by_config)
    assert code == 4, out + err
    assert "more than half" in out
    assert len(await remote.items()) == 4
    config.write_text(pair + "max_delete = 10\n")
    code, out, err = await mirror("--delete", *by_config)
    assert code == 0, out + err
    assert sorted(await remote.items()) == ["/d.txt"]
    (source / "d.txt").unlink()
    code, out, err = await mirror("--delete", "--max-delete", "1")
    assert code == 0, out + err


async def test_dry_run_changes_nothing_and_prints_the_plan(
        mirror: MirrorRun, remote: Remote, gate: RunningGate, source: Path,
        state_path: Path) -> None:
    """--dry-run: one marked line per action and a summary, zero writes, state untouched."""
    _files(source, "keep.txt", "change.txt", "gone.txt", "from.txt")
    assert (await mirror("--create"))[0] == 0
    (source / "change.txt").write_bytes(b"changed")
    (source / "gone.txt").unlink()
    (source / "from.txt").rename(source / "to.txt")
    _files(source, "new.txt")
    state_before = _tracked_files(state_path)
    gate.reset_stats()
    code, out, err = await mirror("--dry-run", "--delete", "--max-delete", "5")
    assert code == 0, out + err
    assert writes(gate.stats()) == {}
    assert _tracked_files(state_path) == state_before
    lines = out.splitlines()
    assert "+ new.txt  (new file, 7 B)" in lines
    assert any(line.startswith("* change.txt") for line in lines)
    assert any(line.startswith("> from.txt -> to.txt") for line in lines)
    assert any(line.startswith("- gone.txt") for line in lines)
    assert any(line.startswith("4 actions") for line in lines)
    code, out, err = await mirror("--dry-run", "--json")
    assert code == 0, out + err
    document = json.loads(out)
    assert {a["kind"] for a in document["actions"]} == {"upload", "overwrite", "move"}
    assert document["summary"]["actions"] == 3
