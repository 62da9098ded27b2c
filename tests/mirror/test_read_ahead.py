"""A walk with many files to read: a helper process reads them ahead, with the same outcome."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from dlsync import constants
from tests.layouts import Layout, write_item
from tests.mirror.conftest import MirrorRun, Remote, fingerprint_of, labels

FILES = 24
AFTER = 4


@pytest.mark.parametrize("after", [AFTER, FILES], ids=["helper", "planner-alone"])
async def test_files_read_ahead_land_as_the_planner_would_send_them(
        mirror: MirrorRun, remote: Remote, source: Path, layout: Layout,
        monkeypatch: pytest.MonkeyPatch, after: int) -> None:
    """Past the threshold the helper reads the files, with the outcome of a walk without it:
    every item carries its file's bytes and annotations, a large file is streamed, a malformed
    annotation file is reported by name and line, and the summary counts what the helper
    read."""
    monkeypatch.setattr(constants, "READ_HELPER_AFTER", after)
    for i in range(FILES):
        data = bytes([i]) * (constants.CARRIED_FILE_BYTES + 10 if i == 7 else 50 + i)
        write_item(source, f"img/{i:02}.jpg", data)
        layout.write(f"img/{i:02}.jpg", [f"label{i % 3}", "cat"][: 1 + i % 2])
    broken = layout.annotation_file("img/13.jpg")
    broken.write_text('{"annotations": [\n  {"type": "class", "label": "x",}\n]}')

    code, out, err = await mirror("--create", "--json", *layout.flags)

    assert code == 1, out + err       # the malformed file fails its annotations only
    summary = json.loads(out)
    assert summary["files_read_ahead"] == FILES - after
    # the item with the malformed file uploads; its annotation step fails
    assert summary["outcomes"] == {"upload.done": FILES - 1, "annotate.failed": 1}
    assert str(broken) in out and "line 2 column" in out
    items = await remote.items()
    assert len(items) == FILES
    for i in range(FILES):
        rel = f"img/{i:02}.jpg"
        item = items["/" + rel]
        data = (source / rel).read_bytes()
        assert fingerprint_of(item)["sha256"] == hashlib.sha256(data).hexdigest()
        assert await remote.content(str(item["id"])) == data
        found = labels(await remote.annotations(str(item["id"])))
        assert found == ([] if i == 13 else layout.labels(rel))


async def test_a_small_walk_reads_its_files_itself(
        mirror: MirrorRun, remote: Remote, source: Path, layout: Layout) -> None:
    """Under the threshold no helper process starts."""
    for i in range(3):
        write_item(source, f"img/{i}.jpg", b"px%d" % i)
        layout.write(f"img/{i}.jpg", ["cat"])
    code, out, err = await mirror("--create", "--json", *layout.flags)
    assert code == 0, out + err
    assert json.loads(out)["files_read_ahead"] == 0
    assert len(await remote.items()) == 3
