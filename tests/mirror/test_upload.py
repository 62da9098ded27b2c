"""Content scenarios: first mirror, no-change rerun, overwrite, restore, state rebuild."""

from __future__ import annotations

import hashlib
import json
import os
import unicodedata
from pathlib import Path

import pytest

from dlsync.gate.server import RunningGate
from tests.mirror.conftest import MirrorRun, Remote, fingerprint_of, uploads, writes

BIG = 20 * 1024 * 1024
NFC_NAME = unicodedata.normalize("NFC", "café.txt")
NFD_NAME = unicodedata.normalize("NFD", "naïve résumé.txt")


def _tree(root: Path) -> dict[str, bytes]:
    """A tree with nesting, spaces, NFC and NFD names, an empty file and a 20 MiB file."""
    files = {
        "top.txt": b"top",
        "a/b/c/deep.bin": b"\x00\x01deep",
        "with space/file name.txt": b"spaced",
        f"ünïcode/{NFC_NAME}": b"nfc",
        f"ünïcode/{NFD_NAME}": b"nfd",
        "empty.dat": b"",
        "big/large.bin": os.urandom(BIG),
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return {unicodedata.normalize("NFC", "/" + rel): data for rel, data in files.items()}


async def test_first_mirror_uploads_every_file_once_with_its_fingerprint(
        mirror: MirrorRun, remote: Remote, source: Path) -> None:
    """Every file becomes exactly one item at its NFC path, with the right size and sha256."""
    expected = _tree(source)
    code, out, err = await mirror("--create")
    assert code == 0, out + err
    items = await remote.items()
    assert sorted(items) == sorted(expected)
    for filename, data in expected.items():
        item = items[filename]
        assert item["metadata"]["system"]["size"] == len(data)
        mark = fingerprint_of(item)
        assert mark["sha256"] == hashlib.sha256(data).hexdigest()
        assert mark["size"] == len(data)
    assert await remote.content(items["/big/large.bin"]["id"]) == expected["/big/large.bin"]


async def test_rerun_without_change_writes_nothing(
        mirror: MirrorRun, remote: Remote, gate: RunningGate, source: Path) -> None:
    """A second run over an unchanged tree sends no write request and exits 0."""
    _tree(source)
    (source / "x.jpg.json").write_text('{"annotations": [{"type": "class", "label": "a"}]}')
    (source / "x.jpg").write_bytes(b"x")
    assert (await mirror("--create"))[0] == 0
    gate.reset_stats()
    code, out, err = await mirror()
    assert code == 0, out + err
    assert writes(gate.stats()) == {}


async def test_modified_file_is_overwritten_in_place(
        mirror: MirrorRun, remote: Remote, gate: RunningGate, source: Path) -> None:
    """A changed file is one overwrite of the same item id, and the new bytes download."""
    (source / "f.txt").write_bytes(b"old")
    assert (await mirror("--create"))[0] == 0
    before = (await remote.items())["/f.txt"]
    (source / "f.txt").write_bytes(b"new content")
    gate.reset_stats()
    code, out, err = await mirror()
    assert code == 0, out + err
    after = (await remote.items())["/f.txt"]
    assert after["id"] == before["id"]
    assert uploads(gate.stats()) == 1
    assert await remote.content(after["id"]) == b"new content"
    assert fingerprint_of(after)["sha256"] == hashlib.sha256(b"new content").hexdigest()


async def test_item_deleted_on_the_platform_is_restored(
        mirror: MirrorRun, remote: Remote, source: Path) -> None:
    """An item removed on the platform is uploaded again by the next run."""
    (source / "keep.txt").write_bytes(b"keep")
    assert (await mirror("--create"))[0] == 0
    await remote.client.delete_item((await remote.items())["/keep.txt"]["id"])
    code, out, err = await mirror()
    assert code == 0, out + err
    item = (await remote.items())["/keep.txt"]
    assert await remote.content(item["id"]) == b"keep"


async def test_lost_state_is_rebuilt_from_remote_fingerprints(
        mirror: MirrorRun, remote: Remote, gate: RunningGate, source: Path,
        state_path: Path) -> None:
    """Without its state file a run uploads and posts nothing; a later change still diffs."""
    (source / "a.jpg").write_bytes(b"a")
    (source / "a.jpg.json").write_text(
        '{"annotations": [{"type": "class", "label": "cat"}, {"type": "class", "label": "dog"}]}')
    (source / "b.jpg").write_bytes(b"b")
    assert (await mirror("--create"))[0] == 0
    item_id = (await remote.items())["/a.jpg"]["id"]
    kept = {a["label"]: a["id"] for a in await remote.annotations(item_id)}
    for leftover in state_path.parent.iterdir():
        leftover.unlink()
    gate.reset_stats()
    code, out, err = await mirror()
    assert code == 0, out + err
    assert uploads(gate.stats()) == 0
    assert not any("/annotations" in route for route in writes(gate.stats()))
    (source / "a.jpg.json").write_text(
        '{"annotations": [{"type": "class", "label": "cat"}, {"type": "class", "label": "owl"}]}')
    code, out, err = await mirror()
    assert code == 0, out + err
    after = {a["label"]: a["id"] for a in await remote.annotations(item_id)}
    assert sorted(after) == ["cat", "owl"]
    assert after["cat"] == kept["cat"]


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
async def test_first_mirror_is_the_same_on_either_event_loop(
        mirror: MirrorRun, remote: Remote, source: Path, loop: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """uvloop (the default) and asyncio's own loop (``DLSYNC_EVENT_LOOP=asyncio``) upload the
    same items with the same fingerprints, and the summary says which loop ran."""
    monkeypatch.setenv("DLSYNC_EVENT_LOOP", loop)
    expected = _tree(source)
    code, out, err = await mirror("--create", "--json")
    assert code == 0, out + err
    assert json.loads(out)["event_loop"] == loop
    items = await remote.items()
    assert sorted(items) == sorted(expected)
    for filename, data in expected.items():
        assert fingerprint_of(items[filename])["sha256"] == hashlib.sha256(data).hexdigest()
