"""A pair whose root vanished is paused, changes nothing, and resumes when the root is back."""

from __future__ import annotations

import shutil
from pathlib import Path

from dlsync.gate.server import RunningGate
from dlsync.state.ops import PAUSED_KEY
from dlsync.state.queries import StateReader
from tests.eventually import eventually
from tests.service.conftest import DATASET, PROJECT, Platform, running


def _config(tmp_path: Path, gate: RunningGate) -> Path:
    pairs = "".join(
        f'[pairs.{name}]\nsource = "{tmp_path / name}"\nremote = "x"\nproject = "{PROJECT}"\n'
        f'dataset = "{DATASET}"\nremote_dir = "/{name}"\ncreate = true\nsettle = 0.2\n'
        'annotations = "none"\ndelete = true\ndelete_grace = 0.2\nmax_delete = 1000\n'
        for name in ("one", "two"))
    config = tmp_path / "dlsync.toml"
    config.write_text(f'[state]\npath = "{tmp_path / "state.db"}"\n'
                      f'[remotes.x]\nurl = "{gate.url}"\n{pairs}')
    return config


def _paused_in_state(state: Path, pair: str) -> object:
    with StateReader(state) as reader:
        return reader.meta(PAUSED_KEY + pair)


async def test_vanished_root_pauses_its_pair_while_the_other_syncs(
        tmp_path: Path, gate: RunningGate, platform: Platform) -> None:
    """Pair one's root is emptied (an unmount): the pair is paused (status line, metrics
    reading, state) and deletes nothing although deletes are on; pair two keeps syncing. When
    the files are back, the pair resumes by itself and nothing was ever deleted."""
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        for i in range(3):
            (tmp_path / name / f"{i}.txt").write_bytes(f"{name}{i}".encode())
    wanted = {f"/{name}/{i}.txt" for name in ("one", "two") for i in range(3)}
    async with running(_config(tmp_path, gate)) as daemon:
        before = await platform.wait_for(lambda found: wanted <= set(found))
        (pair_one,) = [p for p in daemon.pairs if p.pair.name == "one"]
        shutil.move(tmp_path / "one", tmp_path / "aside")
        (tmp_path / "one").mkdir()
        pair_one.trigger_reconcile()  # the periodic reconcile, or SIGHUP, sees the new root
        (tmp_path / "two" / "new.txt").write_bytes(b"still syncing")
        await platform.wait_for(lambda found: "/two/new.txt" in found)
        await eventually(lambda: "one" in daemon.counters.paused_pairs)
        assert "paused one" in daemon.counters.status_line()
        assert daemon.counters.paused() == 1
        assert "unmounted" in str(_paused_in_state(tmp_path / "state.db", "one"))
        (tmp_path / "one").rmdir()
        shutil.move(tmp_path / "aside", tmp_path / "one")
        pair_one.trigger_reconcile()
        await eventually(lambda: "one" not in daemon.counters.paused_pairs)
        after = await platform.items()
    assert {name: before[name]["id"] for name in before} == \
        {name: after[name]["id"] for name in before}
    assert gate.stats()["destroyed"] == {}
    assert _paused_in_state(tmp_path / "state.db", "one") is None
