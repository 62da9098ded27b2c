"""Round trip: annotations made on the platform come back into the local files, in both layouts."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlsync.model import FileStatus
from dlsync.state.queries import StateReader
from tests.layouts import Layout, write_item
from tests.mirror.conftest import MirrorRun, Remote, writes
from tests.pull.conftest import PullRun, annotation_doc


async def _mirrored(mirror: MirrorRun, remote: Remote, source: Path, layout: Layout,
                    wanted: list[str]) -> str:
    write_item(source)
    layout.write("img/x.jpg", wanted)
    code, out, err = await mirror("--create", *layout.flags)
    assert code == 0, out + err
    return str((await remote.items())["/img/x.jpg"]["id"])


async def test_platform_add_edit_delete_reach_the_local_file(
        mirror: MirrorRun, pull: PullRun, remote: Remote, source: Path,
        layout: Layout) -> None:
    """Annotations added, edited and deleted on the platform are in the local file after pulls."""
    item_id = await _mirrored(mirror, remote, source, layout, ["cat"])
    code, out, err = await pull(*layout.flags)
    assert code == 0, out + err

    added = await remote.annotate(item_id, "dog")
    code, out, err = await pull(*layout.flags)
    assert code == 0, out + err
    assert layout.labels("img/x.jpg") == ["cat", "dog"]

    await remote.edit_annotation(added, {"label": "wolf"})
    code, out, err = await pull(*layout.flags)
    assert code == 0, out + err
    assert layout.labels("img/x.jpg") == ["cat", "wolf"]

    await remote.client.delete_annotation(added)
    code, out, err = await pull(*layout.flags)
    assert code == 0, out + err
    assert layout.labels("img/x.jpg") == ["cat"]


async def test_pull_then_mirror_writes_nothing(
        mirror: MirrorRun, pull: PullRun, remote: Remote, source: Path, layout: Layout) -> None:
    """After a pull brought platform annotations down, a mirror sends no write at all."""
    item_id = await _mirrored(mirror, remote, source, layout, ["cat"])
    await remote.annotate(item_id, "dog")
    code, out, err = await pull(*layout.flags)
    assert code == 0, out + err
    assert layout.labels("img/x.jpg") == ["cat", "dog"]

    remote.gate.reset_stats()
    code, out, err = await mirror(*layout.flags)
    assert code == 0, out + err
    assert writes(remote.gate.stats()) == {}


async def test_pulled_annotations_are_owned_so_a_local_delete_is_pushed(
        mirror: MirrorRun, pull: PullRun, remote: Remote, source: Path, layout: Layout) -> None:
    """A pulled annotation removed from the local file is deleted on the platform by mirror."""
    item_id = await _mirrored(mirror, remote, source, layout, ["cat"])
    await remote.annotate(item_id, "dog")
    assert (await pull(*layout.flags)).code == 0
    layout.write("img/x.jpg", ["cat"])
    code, out, err = await mirror(*layout.flags)
    assert code == 0, out + err
    assert sorted(a["label"] for a in await remote.annotations(item_id)) == ["cat"]


async def test_conflict_keeps_both_versions(
        mirror: MirrorRun, pull: PullRun, remote: Remote, source: Path, layout: Layout,
        state_path: Path) -> None:
    """Both sides changed: the local file stays, the platform's is beside it, exit 1, conflict."""
    item_id = await _mirrored(mirror, remote, source, layout, ["cat"])
    await remote.annotate(item_id, "dog")
    layout.write("img/x.jpg", ["cat", "owl"])

    code, out, err = await pull(*layout.flags)
    assert code == 1, out + err
    assert layout.labels("img/x.jpg") == ["cat", "owl"]
    local = layout.annotation_file("img/x.jpg")
    copies = sorted(local.parent.glob(local.name.removesuffix(".json") + ".conflict-*.json"))
    assert len(copies) == 1
    assert sorted(a["label"] for a in annotation_doc(copies[0])["annotations"]) == \
        ["cat", "dog"]
    with StateReader(state_path) as reader:
        pair = reader.pairs()[0][0]
        record = reader.file(pair, "img/x.jpg")
    assert record is not None and record.status is FileStatus.CONFLICT
    assert record.last_error is not None and copies[0].name in record.last_error

    again = await pull(*layout.flags)
    assert again.code == 1, again.out + again.err
    assert len(sorted(local.parent.glob("*.conflict-*.json"))) == 1

    copies[0].unlink()   # the user keeps the local file
    resolved = await pull(*layout.flags)
    assert resolved.code == 0, resolved.out + resolved.err


@pytest.mark.parametrize("policy", ["local", "remote"])
async def test_conflict_policy_picks_a_side(
        mirror: MirrorRun, pull: PullRun, remote: Remote, source: Path, tmp_path: Path,
        policy: str) -> None:
    """conflict=remote overwrites the local file; conflict=local keeps it and mirror pushes it."""
    layout = Layout("sidecar", source, tmp_path)
    item_id = await _mirrored(mirror, remote, source, layout, ["cat"])
    await remote.annotate(item_id, "dog")
    layout.write("img/x.jpg", ["cat", "owl"])

    code, out, err = await pull("--conflict", policy)
    assert code == 0, out + err
    assert not list(source.rglob("*.conflict-*.json"))
    if policy == "remote":
        assert layout.labels("img/x.jpg") == ["cat", "dog"]
        return
    assert layout.labels("img/x.jpg") == ["cat", "owl"]
    code, out, err = await mirror()
    assert code == 0, out + err
    assert sorted(a["label"] for a in await remote.annotations(item_id)) == \
        ["cat", "dog", "owl"]
