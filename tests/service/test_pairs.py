"""Pairs in the service: annotation trees outside the source, shared remotes, fatal errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio

from dlsync.errors import EXIT_AUTH
from dlsync.gate.server import RunningGate
from tests.eventually import eventually
from tests.service.conftest import DATASET, PROJECT, Platform, running, write_config

_BOX = ('{"annotations": [{"type": "box", "label": "%s", "coordinates": '
        '[{"x": 1, "y": 2, "z": 0}, {"x": 5, "y": 9, "z": 0}]}]}')


async def test_annotation_tree_outside_source_is_watched(
        tmp_path: Path, gate: RunningGate, source: Path, platform: Platform) -> None:
    """An annotation file written in a separate tree reaches its item without a reconcile."""
    annotations = tmp_path / "annotations"
    (annotations / "sub").mkdir(parents=True)
    (source / "sub").mkdir()
    (source / "sub" / "cat.jpg").write_bytes(b"not really a jpeg")
    config = write_config(tmp_path, gate, source)
    text = config.read_text().replace('annotations = "sidecar"',
                                      f'annotations = "{annotations}"')
    config.write_text(text)
    async with running(config):
        items = await platform.wait_for(lambda found: "/sub/cat.jpg" in found)
        item_id = items["/sub/cat.jpg"]["id"]
        (annotations / "sub" / "cat.json").write_text(_BOX % "cat")
        await eventually(lambda: _labelled(platform, item_id, ["cat"]))
        (annotations / "sub" / "cat.json").write_text(_BOX % "lynx")
        await eventually(lambda: _labelled(platform, item_id, ["lynx"]))
    assert platform.uploads() == 1


async def _labelled(platform: Platform, item_id: str, labels: list[str]) -> bool:
    return await platform.labels(item_id) == labels


async def test_pairs_on_one_remote_share_one_client(
        tmp_path: Path, gate: RunningGate, platform: Platform) -> None:
    """Two pairs on one remote share one client, so one pacer paces both."""
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.txt").write_bytes(name.encode())
    pairs = "".join(
        f'[pairs.{name}]\nsource = "{tmp_path / name}"\nremote = "x"\nproject = "{PROJECT}"\n'
        f'dataset = "{DATASET}"\nremote_dir = "/{name}"\ncreate = true\nsettle = 0.2\n'
        for name in ("one", "two"))
    config = tmp_path / "dlsync.toml"
    config.write_text(f'[state]\npath = "{tmp_path / "state.db"}"\n'
                      f'[remotes.x]\nurl = "{gate.url}"\n{pairs}')
    async with running(config) as daemon:
        await platform.wait_for(lambda found: {"/one/one.txt", "/two/two.txt"} <= set(found))
        first, second = daemon.pairs
    assert first.client is second.client
    assert first.client.pacer is second.client.pacer
    assert set(daemon.counters.pacer_rates()) == {"x"}


async def test_rejected_token_ends_the_service_with_exit_code_3(
        tmp_path: Path, gate: RunningGate, source: Path) -> None:
    """A token the platform rejects stops ``dlsync run`` with exit code 3 and says why."""
    config = write_config(tmp_path, gate, source)
    env = {**os.environ, "DLSYNC_TOKEN": "not-a-token"}
    with anyio.fail_after(60):
        done = await anyio.run_process(
            [sys.executable, "-m", "dlsync", "run", "--config", str(config)], env=env,
            check=False, stdout=subprocess.DEVNULL)
    stderr = done.stderr.decode()
    assert done.returncode == EXIT_AUTH, stderr[-2000:]
    assert "dlsync:" in stderr and "token" in stderr.lower()
