"""A pull never writes into an empty mount point: roots with tracked files must be there."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.layouts import Layout, write_item
from tests.mirror.conftest import MirrorRun, Remote
from tests.pull.conftest import PullRun


async def test_pull_into_an_emptied_annotation_folder_stops(
        mirror: MirrorRun, pull: PullRun, remote: Remote, source: Path, tmp_path: Path) -> None:
    """With tracked annotation files, a pull into an empty (or missing) annotation folder is
    exit 4 and writes nothing there; once the folder is back the pull runs."""
    layout = Layout("dir", source, tmp_path)
    write_item(source)
    layout.write("img/x.jpg", ["cat"])
    assert (await mirror("--create", *layout.flags)).code == 0
    item_id = (await remote.items())["/img/x.jpg"]["id"]
    await remote.annotate(item_id, "dog")
    shutil.move(layout.directory, tmp_path / "aside")
    layout.directory.mkdir()
    code, out, err = await pull(*layout.flags)
    assert code == 4, out + err
    assert "unmounted" in err and str(layout.directory) in err
    assert list(layout.directory.iterdir()) == []
    layout.directory.rmdir()
    code, out, err = await pull(*layout.flags, "--items")
    assert code == 4, out + err
    assert not layout.directory.exists()
    shutil.move(tmp_path / "aside", layout.directory)
    code, out, err = await pull(*layout.flags)
    assert code == 0, out + err
    assert layout.labels("img/x.jpg") == ["cat", "dog"]


async def test_pull_items_into_an_emptied_source_stops(
        mirror: MirrorRun, pull: PullRun, source: Path) -> None:
    """A checkout into an emptied source root that state tracks files in is exit 4: no file
    is downloaded into what may be an empty mount point."""
    write_item(source, "a.txt", b"a")
    assert (await mirror("--create", "--annotations", "none")).code == 0
    (source / "a.txt").unlink()
    code, out, err = await pull("--annotations", "none", "--items")
    assert code == 4, out + err
    assert list(source.iterdir()) == []
