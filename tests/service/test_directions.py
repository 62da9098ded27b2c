"""``direction`` in the service: pulled annotations reach the local files, pushes only where asked,
nothing pulled echoes back up, and a conflict keeps both versions."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp

from dlsync.config import load_config
from dlsync.gate.server import RunningGate
from dlsync.model import FileStatus
from dlsync.service.daemon import Daemon
from dlsync.state.queries import StateReader
from dlsync.status import collect
from tests.eventually import eventually
from tests.mirror.conftest import writes
from tests.service.conftest import Platform, running, write_config


def _write(path: Path, labels: list[str]) -> None:
    body = [{"type": "class", "label": label, "coordinates": []} for label in labels]
    path.write_text(json.dumps({"annotations": body}))


def _labels(path: Path) -> list[str]:
    return sorted(a["label"] for a in json.loads(path.read_text())["annotations"])


async def _polls(daemon: Daemon, count: int) -> None:
    """Wait until the pair has completed ``count`` more annotation polls."""
    service = daemon.pairs[0]
    target = service.polls + count

    await eventually(lambda: service.polls >= target)


async def _annotate(platform: Platform, item_id: str, label: str) -> str:
    body = {"type": "class", "label": label, "coordinates": []}
    created = await platform.client.post_annotations(item_id, [body])  # type: ignore[list-item]
    return str(created[0]["id"])


async def _relabel(gate: RunningGate, annotation_id: str, label: str) -> None:
    headers = {"Authorization": f"Bearer {gate.mint_token()}"}
    async with aiohttp.ClientSession(headers=headers) as session, \
            session.put(f"{gate.url}/annotations/{annotation_id}",
                        json={"label": label}) as reply:
        assert reply.status == 200, await reply.text()


async def _pushed_first(tmp_path: Path, gate: RunningGate, source: Path,
                        platform: Platform) -> str:
    """``a.jpg`` with a ``cat`` annotation, synced by a push-only service; its item id."""
    (source / "a.jpg").write_bytes(b"pixels")
    _write(source / "a.jpg.json", ["cat"])
    async with running(write_config(tmp_path, gate, source)):
        items = await platform.wait_for(lambda found: "/a.jpg" in found)
        item_id = str(items["/a.jpg"]["id"])

        async def labelled() -> bool:
            return await platform.labels(item_id) == ["cat"]
        await eventually(labelled)
    return item_id


async def test_both_pulls_platform_changes_pushes_local_ones_and_echoes_nothing(
        tmp_path: Path, gate: RunningGate, source: Path, platform: Platform) -> None:
    """direction=both: platform add/edit/delete reach the file, a local edit goes up, no echo."""
    item_id = await _pushed_first(tmp_path, gate, source, platform)
    sidecar = source / "a.jpg.json"
    config = write_config(tmp_path, gate, source, direction="both", reconcile_interval=0.3)
    async with running(config) as daemon:
        added = await _annotate(platform, item_id, "dog")

        async def pulled(want: list[str]) -> bool:
            return _labels(sidecar) == want
        await eventually(lambda: pulled(["cat", "dog"]))

        await _polls(daemon, 2)   # the write's watcher hint has been handled by now
        gate.reset_stats()
        await _polls(daemon, 2)
        assert writes(gate.stats()) == {}

        await _relabel(gate, added, "wolf")
        await eventually(lambda: pulled(["cat", "wolf"]))
        await platform.client.delete_annotation(added)
        await eventually(lambda: pulled(["cat"]))

        _write(sidecar, ["cat", "owl"])

        async def pushed() -> bool:
            return await platform.labels(item_id) == ["cat", "owl"]
        await eventually(pushed)
        await _polls(daemon, 2)
    assert _labels(sidecar) == ["cat", "owl"]
    assert await platform.labels(item_id) == ["cat", "owl"]


async def test_pull_annotations_brings_changes_down_and_sends_nothing_up(
        tmp_path: Path, gate: RunningGate, source: Path, platform: Platform) -> None:
    """direction=pull-annotations: a new local file is not uploaded; platform changes arrive."""
    item_id = await _pushed_first(tmp_path, gate, source, platform)
    config = write_config(tmp_path, gate, source, direction="pull-annotations",
                          reconcile_interval=0.3)
    async with running(config) as daemon:
        assert not daemon.pairs[0].watching
        gate.reset_stats()
        (source / "b.jpg").write_bytes(b"new and local")
        _write(source / "a.jpg.json", ["cat"])   # rewritten, same set: nothing to pull or push
        await _annotate(platform, item_id, "dog")
        gate_writes_before = writes(gate.stats())

        async def pulled() -> bool:
            return _labels(source / "a.jpg.json") == ["cat", "dog"]
        await eventually(pulled)
        await _polls(daemon, 2)
        dlsync_writes = {route: n - gate_writes_before.get(route, 0)
                         for route, n in writes(gate.stats()).items()}
    assert not any(dlsync_writes.values()), dlsync_writes
    assert "/b.jpg" not in await platform.items()


async def test_conflict_keeps_both_versions_and_shows_in_status(
        tmp_path: Path, gate: RunningGate, source: Path, platform: Platform) -> None:
    """A local and a platform edit between polls: conflict copy written, local file untouched."""
    item_id = await _pushed_first(tmp_path, gate, source, platform)
    config = write_config(tmp_path, gate, source, direction="pull-annotations")
    async with running(config) as daemon:
        await _polls(daemon, 1)
        await _annotate(platform, item_id, "dog")
        _write(source / "a.jpg.json", ["cat", "owl"])
        daemon.reconcile()
        await _polls(daemon, 1)
        assert daemon.counters.conflicts() == 1
    copies = sorted(source.glob("a.jpg.conflict-*.json"))
    assert len(copies) == 1 and _labels(copies[0]) == ["cat", "dog"]
    assert _labels(source / "a.jpg.json") == ["cat", "owl"]
    state = load_config(config).state
    assert state is not None
    report = collect(state, load_config(config))
    assert report.pairs[0].counts.get(FileStatus.CONFLICT) == 1
    with StateReader(state) as reader:
        record = reader.file(reader.pairs()[0][0], "a.jpg")
    assert record is not None and record.last_error is not None
    assert copies[0].name in record.last_error
    assert await platform.labels(item_id) == ["cat", "dog"]
