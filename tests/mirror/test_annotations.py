"""Annotation scenarios: the remote set follows the local file, in both layouts, as a diff."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlsync.errors import BadRequestError
from dlsync.push import itemstep
from tests.layouts import Layout, write_item
from tests.mirror.conftest import MirrorRun, Remote, fingerprint_of, labels


async def test_annotation_set_follows_the_local_file(
        mirror: MirrorRun, remote: Remote, source: Path, layout: Layout) -> None:
    """Add, modify and remove annotations: the remote set equals the file; kept ones keep ids."""
    write_item(source)
    layout.write("img/x.jpg", ["cat", "dog"])
    code, out, err = await mirror("--create", *layout.flags)
    assert code == 0, out + err
    item_id = (await remote.items())["/img/x.jpg"]["id"]
    first = {a["label"]: a["id"] for a in await remote.annotations(item_id)}
    assert sorted(first) == ["cat", "dog"]

    layout.write("img/x.jpg", ["cat", "owl", "bee"])
    code, out, err = await mirror(*layout.flags)
    assert code == 0, out + err
    second = {a["label"]: a["id"] for a in await remote.annotations(item_id)}
    assert sorted(second) == ["bee", "cat", "owl"]
    assert second["cat"] == first["cat"]

    layout.write("img/x.jpg", [])
    code, out, err = await mirror(*layout.flags)
    assert code == 0, out + err
    assert await remote.annotations(item_id) == []


async def test_platform_annotation_survives_every_run(
        mirror: MirrorRun, remote: Remote, source: Path, layout: Layout) -> None:
    """An annotation an annotator added through the API is never deleted by dlsync."""
    write_item(source)
    layout.write("img/x.jpg", ["cat"])
    assert (await mirror("--create", *layout.flags))[0] == 0
    item_id = (await remote.items())["/img/x.jpg"]["id"]
    human = await remote.annotate(item_id, "annotator")
    for wanted in (["cat", "dog"], [], ["bee"]):
        layout.write("img/x.jpg", wanted)
        code, out, err = await mirror(*layout.flags)
        assert code == 0, out + err
        found = await remote.annotations(item_id)
        assert human in {a["id"] for a in found}
        assert labels(found) == sorted([*wanted, "annotator"])


async def test_edited_annotation_is_kept_and_reported_as_conflict(
        mirror: MirrorRun, remote: Remote, source: Path, layout: Layout) -> None:
    """A dlsync annotation edited on the platform is not deleted when it leaves the file: exit 1."""
    write_item(source)
    layout.write("img/x.jpg", ["cat", "dog"])
    assert (await mirror("--create", *layout.flags))[0] == 0
    item_id = (await remote.items())["/img/x.jpg"]["id"]
    dog = next(a for a in await remote.annotations(item_id) if a["label"] == "dog")
    await remote.edit_annotation(str(dog["id"]), {"label": "wolf"})
    layout.write("img/x.jpg", ["cat"])
    code, out, err = await mirror(*layout.flags)
    assert code == 1, out + err
    assert "img/x.jpg" in out and "conflict" in out
    found = await remote.annotations(item_id)
    assert labels(found) == ["cat", "wolf"]


async def test_malformed_annotation_file_fails_only_its_annotations(
        mirror: MirrorRun, remote: Remote, source: Path, layout: Layout) -> None:
    """The item uploads, the summary names the file and line/column, exit 1; fixed, it posts."""
    write_item(source)
    broken = layout.annotation_file("img/x.jpg")
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text('{"annotations": [\n  {"type": "class", "label": "cat",}\n]}')
    code, out, err = await mirror("--create", *layout.flags)
    assert code == 1, out + err
    assert str(broken) in out and "line 2 column" in out
    item_id = (await remote.items())["/img/x.jpg"]["id"]
    assert await remote.annotations(item_id) == []
    layout.write("img/x.jpg", ["cat"])
    code, out, err = await mirror(*layout.flags)
    assert code == 0, out + err
    assert labels(await remote.annotations(item_id)) == ["cat"]


async def test_unlistable_annotation_folder_leaves_annotations_alone(
        mirror: MirrorRun, remote: Remote, source: Path, tmp_path: Path) -> None:
    """An annotation folder that cannot be listed is a reported problem, not "no annotations".

    The folder is replaced by a regular file of the same name, which no user (root included)
    can list.
    """
    layout = Layout("dir", source, tmp_path)
    write_item(source, "img/x.jpg")
    layout.write("img/x.jpg", ["cat", "dog"])
    assert (await mirror("--create", *layout.flags))[0] == 0
    item_id = (await remote.items())["/img/x.jpg"]["id"]
    for leftover in (layout.directory / "img").iterdir():
        leftover.unlink()
    (layout.directory / "img").rmdir()
    (layout.directory / "img").write_text("not a folder")
    code, out, err = await mirror(*layout.flags)
    assert code == 1, out + err
    assert "img" in out
    assert labels(await remote.annotations(item_id)) == ["cat", "dog"]


async def test_failed_annotation_post_unmarks_the_item_and_is_retried(
        mirror: MirrorRun, remote: Remote, source: Path, state_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """When posting fails after the upload, the remote set hash is cleared and a later run
    (even without state) posts the annotations exactly once."""
    write_item(source)
    Layout("sidecar", source, source).write("img/x.jpg", ["cat", "dog"])

    async def refuse(*_args: object, **_kwargs: object) -> None:
        raise BadRequestError("annotations refused by the platform")

    with monkeypatch.context() as patch:
        patch.setattr(itemstep, "sync_annotations", refuse)
        code, out, err = await mirror("--create")
    assert code == 1, out + err
    assert "annotations refused" in out
    item = (await remote.items())["/img/x.jpg"]
    assert fingerprint_of(item).get("annotations") is None
    assert fingerprint_of(item)["sha256"]
    for leftover in state_path.parent.iterdir():
        leftover.unlink()
    code, out, err = await mirror()
    assert code == 0, out + err
    assert labels(await remote.annotations(item["id"])) == ["cat", "dog"]
    code, out, err = await mirror()
    assert code == 0, out + err
    assert labels(await remote.annotations(item["id"])) == ["cat", "dog"]
