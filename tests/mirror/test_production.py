"""What differs when the remote is a real platform: errors at the right scope, uploads the
platform stored short, fingerprints it dropped."""

from __future__ import annotations

from pathlib import Path

from dlsync.constants import FINGERPRINT_KEY
from dlsync.gate.faults import FaultSettings
from dlsync.gate.server import RunningGate
from tests.layouts import write_item
from tests.mirror.conftest import MirrorRun, Remote

NONE = ("--annotations", "none")


async def test_403_on_one_item_fails_that_item_only(
        mirror: MirrorRun, remote: Remote, gate: RunningGate, source: Path) -> None:
    """A 403 on a route about one item (here its move) fails that item (exit 1, named); the
    rest of the run goes on and the next run, allowed again, finishes it."""
    write_item(source, "a/one.txt", b"one")
    assert (await mirror("--create", *NONE)).code == 0
    (source / "a" / "one.txt").rename(source / "a" / "uno.txt")
    write_item(source, "b/two.txt", b"two")
    gate.set_faults(FaultSettings(forbid=("PATCH /items/{id}",)))
    code, out, err = await mirror(*NONE)
    assert code == 1, out + err
    assert "a/uno.txt" in out and "403" in out
    assert "/b/two.txt" in await remote.items()
    gate.set_faults(FaultSettings())
    code, out, err = await mirror(*NONE)
    assert code == 0, out + err
    assert sorted(await remote.items()) == ["/a/uno.txt", "/b/two.txt"]


async def test_403_on_the_dataset_is_exit_3_naming_it(
        mirror: MirrorRun, remote: Remote, gate: RunningGate, source: Path) -> None:
    """A 403 on a dataset-level route (the upload) stops a one-shot run with exit 3 and a
    message naming the dataset, not one failure per file."""
    write_item(source, "a.txt", b"a")
    assert (await mirror("--create", *NONE)).code == 0
    dataset = await remote.dataset_id()
    write_item(source, "b.txt", b"b")
    gate.set_faults(FaultSettings(forbid=("POST /datasets/{id}/items",)))
    code, out, err = await mirror(*NONE)
    assert code == 3, out + err
    assert "403" in err and dataset in err and "permissions" in err


async def test_a_truncated_upload_is_never_adopted(
        mirror: MirrorRun, remote: Remote, gate: RunningGate, source: Path,
        state_path: Path) -> None:
    """An item the platform stored short loses dlsync's fingerprint at once: a later run even
    without state overwrites it rather than adopting it as this content."""
    write_item(source, "x.bin", b"0123456789")
    gate.set_faults(FaultSettings(truncate_uploads=True))
    code, out, err = await mirror("--create", *NONE)
    assert code == 1, out + err
    item = (await remote.items())["/x.bin"]
    assert FINGERPRINT_KEY not in (item["metadata"].get("user") or {})
    gate.set_faults(FaultSettings())
    for leftover in state_path.parent.iterdir():
        leftover.unlink()
    gate.reset_stats()
    code, out, err = await mirror(*NONE)
    assert code == 0, out + err
    assert gate.stats()["destroyed"] == {"overwritten": 1}
    item = (await remote.items())["/x.bin"]
    assert item["metadata"]["system"]["size"] == 10
    assert item["metadata"]["user"][FINGERPRINT_KEY]["size"] == 10
