"""Nothing destructive without a plan line and a limit (DESIGN.md decision 7).

Every scenario runs the dry run first (``--json``), then the real run, and holds what the gate
counted as destroyed (items deleted, annotations deleted, contents overwritten) against the
plan's destructive lines: the real run never destroys more than its dry run showed. Each one
then checks the platform through the API.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlsync.gate.server import RunningGate
from tests.commands import Outcome
from tests.layouts import Layout, write_item
from tests.mirror.conftest import MirrorRun, Remote, labels

BOXES = ["a", "b", "c", "d", "e"]


@dataclass
class Checked:
    """A dry run and the real run after it, with what the gate destroyed in between."""

    plan: dict[str, Any]
    run: Outcome
    destroyed: dict[str, int]

    @property
    def code(self) -> int:
        return self.run.code

    def planned(self, kind: str) -> list[dict[str, Any]]:
        return [a for a in self.plan["actions"] if a["kind"] == kind]


async def checked(mirror: MirrorRun, gate: RunningGate, *flags: str) -> Checked:
    """Dry run, then run; assert the run destroyed nothing its dry run did not show."""
    dry = await mirror("--dry-run", "--json", *flags)
    plan = json.loads(dry.out)
    gate.reset_stats()
    run = await mirror(*flags)
    destroyed = gate.stats()["destroyed"]
    actions = plan["actions"]
    item_deletes = sum(1 for a in actions if a["kind"] == "delete")
    annotation_deletes = sum(a.get("annotations", {}).get("removed", 0) for a in actions
                             if a["kind"] != "delete-annotations")
    overwrites = sum(1 for a in actions if a["kind"] == "overwrite")
    assert destroyed.get("items", 0) <= item_deletes, (destroyed, dry.out)
    assert destroyed.get("annotations", 0) <= annotation_deletes, (destroyed, dry.out)
    assert destroyed.get("overwritten", 0) <= overwrites, (destroyed, dry.out)
    return Checked(plan, run, destroyed)


def populate(source: Path, layout: Layout, count: int, boxes: list[str] = BOXES) -> list[str]:
    """``count`` items with one annotation per label in ``boxes``; their relative paths."""
    names = [f"img/{i:03d}.jpg" for i in range(count)]
    for name in names:
        write_item(source, name, name.encode())
        layout.write(name, boxes)
    return names


async def annotation_count(remote: Remote) -> int:
    items = await remote.items()
    return sum([len(await remote.annotations(item["id"])) for item in items.values()])


def dir_layout(source: Path, tmp_path: Path) -> Layout:
    return Layout("dir", source, tmp_path)


async def test_emptied_annotation_folder_stops_the_run_with_or_without_delete(
        mirror: MirrorRun, remote: Remote, gate: RunningGate, source: Path,
        tmp_path: Path) -> None:
    """An emptied annotation folder (an unmounted share) is exit 4 before any change, whatever
    --delete says; every annotation stays on the platform."""
    layout = dir_layout(source, tmp_path)
    populate(source, layout, 10)
    assert (await mirror("--create", *layout.flags)).code == 0
    shutil.rmtree(layout.directory)
    layout.directory.mkdir()
    write_item(source, "img/new.jpg", b"new")
    for flags in ((), ("--delete",), ("--delete", "--max-delete-annotations", "100000")):
        gate.reset_stats()
        code, out, err = await mirror(*layout.flags, *flags)
        assert code == 4, out + err
        assert str(layout.directory) in err and "unmounted" in err
        assert gate.stats()["destroyed"] == {}
        assert "/img/new.jpg" not in await remote.items(), "nothing at all changes"
    code, out, err = await mirror("--dry-run", *layout.flags)
    assert code == 4 and "unmounted" in err
    assert await annotation_count(remote) == 50


async def test_missing_annotation_folder_stops_the_run(
        mirror: MirrorRun, remote: Remote, gate: RunningGate, source: Path,
        tmp_path: Path) -> None:
    """A missing annotation folder while state tracks annotation files: exit 4, nothing sent."""
    layout = dir_layout(source, tmp_path)
    populate(source, layout, 3)
    assert (await mirror("--create", *layout.flags)).code == 0
    shutil.rmtree(layout.directory)
    code, out, err = await mirror(*layout.flags, "--delete")
    assert code == 4, out + err
    assert "missing" in err and str(layout.directory) in err
    assert await annotation_count(remote) == 15


async def test_sidecar_tree_without_annotation_files_stops_the_run(
        mirror: MirrorRun, remote: Remote, source: Path, tmp_path: Path) -> None:
    """Sidecar layout: no annotation file anywhere under the source while some are tracked is
    exit 4; --allow-empty-root lets a user who really removed them go on (deletes still need
    --delete)."""
    layout = Layout("sidecar", source, tmp_path)
    names = populate(source, layout, 3)
    assert (await mirror("--create")).code == 0
    for name in names:
        layout.annotation_file(name).unlink()
    code, out, err = await mirror("--delete")
    assert code == 4, out + err
    assert "without any annotation file" in err
    assert await annotation_count(remote) == 15
    code, out, err = await mirror("--allow-empty-root")
    assert code == 0, out + err
    assert "3 items kept their platform annotations" in out
    assert await annotation_count(remote) == 15
    code, out, err = await mirror("--allow-empty-root", "--delete")
    assert code == 4, out + err
    assert "3 deletes would remove more than half of the 3 tracked files" in out
    assert await annotation_count(remote) == 15, "a gone set counts as an item deleted"
    code, out, err = await mirror("--allow-empty-root", "--delete", "--max-delete", "3")
    assert code == 0, out + err
    assert await annotation_count(remote) == 0


async def test_emptied_source_root_deletes_nothing_even_without_limits(
        mirror: MirrorRun, remote: Remote, gate: RunningGate, source: Path) -> None:
    """An emptied source with --delete and a huge --max-delete: exit 4, nothing deleted."""
    for i in range(5):
        write_item(source, f"f{i}.txt", b"x%d" % i)
    assert (await mirror("--create", "--annotations", "none")).code == 0
    for child in source.iterdir():
        child.unlink()
    gate.reset_stats()
    code, out, err = await mirror("--annotations", "none", "--delete", "--max-delete", "1000000")
    assert code == 4, out + err
    assert str(source) in err and "unmounted" in err
    assert gate.stats()["destroyed"] == {}
    assert len(await remote.items()) == 5
    source.rmdir()
    code, out, err = await mirror("--annotations", "none", "--delete")
    assert code == 4 and "missing" in err, out + err


async def test_removed_annotation_files_are_kept_unless_delete(
        mirror: MirrorRun, remote: Remote, gate: RunningGate, source: Path,
        tmp_path: Path) -> None:
    """Three annotation files removed: without --delete nothing is deleted, the summary says
    so and a rerun changes nothing; with --delete exactly those items' annotations go."""
    layout = dir_layout(source, tmp_path)
    names = populate(source, layout, 8)
    assert (await mirror("--create", *layout.flags)).code == 0
    gone = names[:3]
    for name in gone:
        layout.annotation_file(name).unlink()
    result = await checked(mirror, gate, *layout.flags)
    assert result.code == 0, result.run.out + result.run.err
    assert result.destroyed == {}
    assert result.plan["summary"]["annotations_kept"] == 3
    assert "3 items kept their platform annotations" in result.run.out
    assert await annotation_count(remote) == 40
    gate.reset_stats()
    rerun = await mirror(*layout.flags)
    assert rerun.code == 0 and gate.stats()["destroyed"] == {}
    assert not any(r.startswith(("POST", "PATCH", "DELETE")) and not r.endswith("/query")
                   for r in gate.stats()["by_route"]), gate.stats()["by_route"]

    result = await checked(mirror, gate, *layout.flags, "--delete")
    assert result.code == 0, result.run.out + result.run.err
    assert [a["path"] for a in result.planned("delete-annotations")] == gone
    assert result.destroyed == {"annotations": 15}
    items = await remote.items()
    for name in names:
        found = await remote.annotations(items["/" + name]["id"])
        assert labels(found) == ([] if name in gone else BOXES)
    again = await checked(mirror, gate, *layout.flags, "--delete")
    assert again.plan["actions"] == [] and again.destroyed == {}


async def test_a_box_removed_from_a_file_goes_without_any_flag(
        mirror: MirrorRun, remote: Remote, gate: RunningGate, source: Path,
        tmp_path: Path) -> None:
    """An annotation removed from a file that is still there is deleted: exactly that one."""
    layout = dir_layout(source, tmp_path)
    populate(source, layout, 3)
    assert (await mirror("--create", *layout.flags)).code == 0
    layout.write("img/001.jpg", BOXES[:-1])
    dry = await mirror("--dry-run", *layout.flags)
    assert "* img/001.jpg  (annotations +0 -1)" in dry.out
    assert "- img/001.jpg  (1 annotation removed from the annotation file)" in dry.out
    result = await checked(mirror, gate, *layout.flags)
    assert result.code == 0, result.run.out + result.run.err
    assert result.destroyed == {"annotations": 1}
    items = await remote.items()
    assert labels(await remote.annotations(items["/img/001.jpg"]["id"])) == BOXES[:-1]
    assert labels(await remote.annotations(items["/img/000.jpg"]["id"])) == BOXES


async def test_edited_boxes_are_replacements_not_removals(
        mirror: MirrorRun, remote: Remote, gate: RunningGate, source: Path,
        tmp_path: Path) -> None:
    """A box edited in 50 files with --max-delete-annotations 10: all 50 replaced (a removal
    matched by an addition is no deletion), exit 0."""
    layout = dir_layout(source, tmp_path)
    names = populate(source, layout, 50)
    assert (await mirror("--create", *layout.flags)).code == 0
    for name in names:
        layout.write(name, [*BOXES[:-1], "edited"])
    result = await checked(mirror, gate, *layout.flags, "--max-delete-annotations", "10")
    assert result.code == 0, result.run.out + result.run.err
    assert result.planned("delete-annotations") == []
    assert result.planned("annotate")[0]["annotations"] == {"added": 1, "removed": 1}
    assert result.destroyed == {"annotations": 50}
    items = await remote.items()
    for name in names[:5]:
        found = await remote.annotations(items["/" + name]["id"])
        assert labels(found) == sorted([*BOXES[:-1], "edited"])


async def test_net_removals_over_the_limit_delete_nothing_and_upload_the_rest(
        mirror: MirrorRun, remote: Remote, gate: RunningGate, source: Path,
        tmp_path: Path) -> None:
    """200 net removals over --max-delete-annotations: none deleted, uploads still done, exit
    4; state keeps them pending, so raising the limit deletes them next run."""
    layout = dir_layout(source, tmp_path)
    many = [f"l{i:02d}" for i in range(40)]
    names = populate(source, layout, 10, many)
    assert (await mirror("--create", *layout.flags)).code == 0
    for name in names:
        layout.write(name, many[:20])
    write_item(source, "img/new.jpg", b"new")
    result = await checked(mirror, gate, *layout.flags, "--max-delete-annotations", "100")
    assert result.code == 4, result.run.out + result.run.err
    assert "exceed max_delete_annotations=100" in result.run.out
    assert result.destroyed == {}
    assert "/img/new.jpg" in await remote.items()
    assert await annotation_count(remote) == 400
    result = await checked(mirror, gate, *layout.flags, "--max-delete-annotations", "200")
    assert result.code == 0, result.run.out + result.run.err
    assert result.destroyed == {"annotations": 200}
    assert await annotation_count(remote) == 200


async def test_excluded_paths_are_not_deleted_unless_asked(
        mirror: MirrorRun, remote: Remote, gate: RunningGate, source: Path) -> None:
    """A path newly matched by an ignore pattern is no delete under --delete; with
    --delete-excluded it is, within the limits."""
    for i in range(6):
        write_item(source, f"keep/{i}.txt", b"k%d" % i)
    write_item(source, "scratch/a.tmp2", b"a")
    write_item(source, "scratch/b.tmp2", b"b")
    assert (await mirror("--create", "--annotations", "none")).code == 0
    (source / ".dlsyncignore").write_text("scratch/\n")
    result = await checked(mirror, gate, "--annotations", "none", "--delete")
    assert result.code == 0, result.run.out + result.run.err
    assert result.destroyed == {} and result.planned("delete") == []
    assert result.plan["summary"]["excluded_kept"] == 2
    assert "/scratch/a.tmp2" in await remote.items()
    result = await checked(mirror, gate, "--annotations", "none", "--delete",
                           "--delete-excluded")
    assert result.code == 0, result.run.out + result.run.err
    assert result.destroyed == {"items": 2}
    assert sorted(await remote.items()) == [f"/keep/{i}.txt" for i in range(6)]


async def test_a_copied_example_config_keeps_the_half_rule(
        mirror: MirrorRun, remote: Remote, gate: RunningGate, source: Path,
        tmp_path: Path) -> None:
    """The shipped example's [defaults] limits apply but never lift the half-of-tracked rule;
    only the pair's own table (or a flag) does."""
    example = (Path(__file__).parents[2] / "config" / "dlsync.toml").read_text()
    pair = (f'\n[pairs.mine]\nsource = "{source}"\nremote = "{gate.url}"\n'
            f'project = "scenarios"\ndataset = "mirror"\nannotations = "none"\n'
            "create = true\ndelete = true\n")
    config = tmp_path / "dlsync.toml"
    config.write_text(example + pair)
    for i in range(4):
        write_item(source, f"f{i}.txt", b"%d" % i)
    assert (await mirror("--config", str(config), "--pair", "mine", root=source)).code == 0
    for i in range(3):
        (source / f"f{i}.txt").unlink()
    result = await checked(mirror, gate, "--config", str(config), "--pair", "mine")
    assert result.code == 4, result.run.out + result.run.err
    assert "more than half of the 4 tracked files" in result.run.out
    assert result.destroyed == {} and len(await remote.items()) == 4
    config.write_text(example + pair + "max_delete = 3\n")
    result = await checked(mirror, gate, "--config", str(config), "--pair", "mine")
    assert result.code == 0, result.run.out + result.run.err
    assert result.destroyed == {"items": 3}


async def test_backup_dir_moves_deleted_items_with_ids_and_annotations(
        mirror: MirrorRun, remote: Remote, gate: RunningGate, source: Path,
        tmp_path: Path) -> None:
    """--backup-dir turns each delete into a move (dated folder, hierarchy kept): ids and
    annotations survive, nothing is deleted, and a second run leaves the backup alone."""
    layout = dir_layout(source, tmp_path)
    names = populate(source, layout, 4)
    assert (await mirror("--create", *layout.flags)).code == 0
    before = {name: item["id"] for name, item in (await remote.items()).items()}
    for name in names[:2]:
        (source / name).unlink()
        layout.annotation_file(name).unlink()
    flags = (*layout.flags, "--delete", "--backup-dir", "/.trash")
    result = await checked(mirror, gate, *flags)
    assert result.code == 0, result.run.out + result.run.err
    assert result.destroyed == {}
    assert "moved to /.trash/" in result.run.out
    after = await remote.items()
    moved = {name: item for name, item in after.items() if name.startswith("/.trash/")}
    assert len(moved) == 2
    for name in names[:2]:
        (found,) = [item for path, item in moved.items() if path.endswith("/" + name)]
        assert found["id"] == before["/" + name]
        assert labels(await remote.annotations(found["id"])) == BOXES
    again = await checked(mirror, gate, *flags)
    assert again.plan["actions"] == [] and again.destroyed == {}
    assert await remote.items() == after


async def test_user_metadata_keys_are_never_removed(
        mirror: MirrorRun, remote: Remote, gate: RunningGate, source: Path,
        tmp_path: Path) -> None:
    """A key that leaves the file's ``metadata.user`` stays on the item, through a metadata
    patch and through a content overwrite; new and changed keys go up."""
    layout = dir_layout(source, tmp_path)
    write_item(source, "img/x.jpg", b"one")
    path = layout.annotation_file("img/x.jpg")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"annotations": [], "metadata": {"user": {"a": 1, "b": 2}}}))
    assert (await mirror("--create", *layout.flags)).code == 0
    path.write_text(json.dumps({"annotations": [], "metadata": {"user": {"a": 5}}}))
    result = await checked(mirror, gate, *layout.flags)
    assert result.code == 0, result.run.out + result.run.err
    user = (await remote.items())["/img/x.jpg"]["metadata"]["user"]
    assert (user["a"], user["b"]) == (5, 2)
    write_item(source, "img/x.jpg", b"two")
    result = await checked(mirror, gate, *layout.flags)
    assert result.code == 0 and result.destroyed == {"overwritten": 1}
    user = (await remote.items())["/img/x.jpg"]["metadata"]["user"]
    assert (user["a"], user["b"]) == (5, 2)


async def test_exclude_flags_leave_paths_out_and_never_delete_them(
        mirror: MirrorRun, remote: Remote, gate: RunningGate, source: Path,
        tmp_path: Path) -> None:
    """--exclude and --exclude-from are the command-line side of ``ignore``: excluded paths are
    not uploaded, and ones already on the platform are not deleted under --delete."""
    for name in ("a.txt", "b.log", "c.bak", "d.txt"):
        write_item(source, name, name.encode())
    assert (await mirror("--create", "--annotations", "none", "--exclude", "*.log")).code == 0
    assert sorted(await remote.items()) == ["/a.txt", "/c.bak", "/d.txt"]
    patterns = tmp_path / "excludes.txt"
    patterns.write_text("# scratch files\n*.bak\n")
    result = await checked(mirror, gate, "--annotations", "none", "--delete",
                           "--exclude", "*.log", "--exclude-from", str(patterns))
    assert result.code == 0, result.run.out + result.run.err
    assert result.destroyed == {} and result.plan["summary"]["excluded_kept"] == 1
    assert sorted(await remote.items()) == ["/a.txt", "/c.bak", "/d.txt"]
    missing = await mirror("--annotations", "none", "--exclude-from", str(tmp_path / "no"))
    assert missing.code == 2 and "--exclude-from" in missing.err
