"""Hostile local file names: backslashes, dots, leading dashes, control characters, bad UTF-8."""

from __future__ import annotations

import os
from pathlib import Path

from tests.mirror.conftest import MirrorRun, Remote, writes

SYNCED = ["a\\b.jpg", "..\\..\\up.jpg", "-rf.jpg", "--help.jpg", ".hidden.jpg",
          "x" * 251 + ".jpg", "sp ace.jpg", "e\u0301.jpg"]
REFUSED = {"new\nline.jpg": "control character", "tab\there.jpg": "control character",
           os.fsdecode(b"bad\xff.jpg"): "UTF-8"}


async def test_hostile_names_sync_inside_the_dataset_or_fail_by_name(
        mirror: MirrorRun, remote: Remote, source: Path) -> None:
    """Odd names are one item each under the root; impossible ones fail by name; reruns add none."""
    for n, name in enumerate([*SYNCED, *REFUSED]):
        (source / name).write_bytes(f"{n}".encode())
    code, out, err = await mirror("--create")
    assert code == 1, out + err
    assert f"{len(REFUSED)} failed" in out, out
    for reason in REFUSED.values():
        assert reason in out, out
    assert "bad\\xff.jpg" in out, out
    items = await remote.items()
    assert sorted(items) == sorted("/" + name.replace("e\u0301", "\u00e9") for name in SYNCED)
    remote.gate.reset_stats()
    code, out, err = await mirror()
    assert code == 1 and f"{len(REFUSED)} failed" in out, out + err
    assert writes(remote.gate.stats()) == {}
    assert len(await remote.items()) == len(SYNCED)
