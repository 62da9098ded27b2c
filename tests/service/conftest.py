"""Service fixtures: the daemon in-process against a real gate, a config in tmp_path, and a view
of the platform through ``DataloopClient``. Waits poll with ``eventually``, never sleep; a test
that needs time to pass runs the daemon on a ``FakeClock`` and advances it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from dlsync.clock import Clock
from dlsync.config import load_config
from dlsync.gate.server import RunningGate
from dlsync.local.watch import WatchSource
from dlsync.remote.client import DataloopClient
from dlsync.remote.credentials import Credentials
from dlsync.remote.settings import RemoteSettings
from dlsync.remote.types import ItemJson
from dlsync.service.daemon import Daemon, Seams
from dlsync.service.notify import Notifier
from tests.eventually import eventually

PROJECT = "service"
DATASET = "live"


def write_config(tmp_path: Path, gate: RunningGate, source: Path,
                 service: dict[str, Any] | None = None, **pair: Any) -> Path:
    """A config with one pair ``main`` on the gate; ``pair`` overrides its keys, ``service``
    sets keys of ``[service]``."""
    values = {"settle": 0.2, "delete_grace": 1.0, "reconcile_interval": 600.0, **pair}
    lines = [f'[state]\npath = "{tmp_path / "state.db"}"\n',
             "[service]", *(f"{key} = {_toml(value)}" for key, value in (service or {}).items()),
             f'[remotes.x]\nurl = "{gate.url}"\n',
             f'[pairs.main]\nsource = "{source}"\nremote = "x"\nproject = "{PROJECT}"\n'
             f'dataset = "{DATASET}"\ncreate = true\nannotations = "sidecar"']
    for key, value in values.items():
        lines.append(f"{key} = {_toml(value)}")
    path = tmp_path / "dlsync.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return f'"{value}"' if isinstance(value, str) and not value.startswith('"') else str(value)


@dataclass
class Platform:
    """The dataset as a user sees it through the API."""

    gate: RunningGate
    client: DataloopClient

    async def items(self) -> dict[str, ItemJson]:
        """Every item by remote filename (empty before the dataset exists)."""
        try:
            project = await self.client.get_project(PROJECT)
            dataset = await self.client.get_dataset(project["id"], DATASET)
        except Exception:
            return {}
        return {i["filename"]: i async for i in self.client.iter_items(dataset["id"])}

    async def dataset_id(self) -> str:
        project = await self.client.get_project(PROJECT)
        return (await self.client.get_dataset(project["id"], DATASET))["id"]

    async def labels(self, item_id: str) -> list[str]:
        """Labels of the item's annotations."""
        dataset = await self.dataset_id()
        return sorted([str(a.get("label"))
                       async for a in self.client.iter_annotations(dataset, item_id)])

    async def wait_for(self, check: Callable[[dict[str, ItemJson]], bool],
                       timeout: float = 30.0, *,
                       meanwhile: Callable[[], object] | None = None) -> dict[str, ItemJson]:
        """Poll the items until ``check`` holds (``meanwhile`` between polls, as in
        ``eventually``); fail after ``timeout`` seconds."""
        async def found() -> tuple[dict[str, ItemJson]] | None:
            items = await self.items()
            return (items,) if check(items) else None   # a tuple: truthy even when empty

        (items,) = await eventually(found, timeout, meanwhile=meanwhile)
        return items

    def uploads(self) -> int:
        """Upload requests the gate answered so far."""
        return sum(n for route, by_status in self.gate.stats()["by_route"].items()
                   if route.startswith("POST ") and route.endswith("/datasets/{id}/items")
                   for n in by_status.values())


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    return root


@pytest.fixture
async def platform(gate: RunningGate, monkeypatch: pytest.MonkeyPatch
                   ) -> AsyncIterator[Platform]:
    token = gate.mint_token()
    monkeypatch.setenv("DLSYNC_TOKEN", token)
    settings = RemoteSettings(url=gate.url)
    async with DataloopClient(settings, Credentials(token=token, source="test")) as client:
        yield Platform(gate, client)


@asynccontextmanager
async def running(config: Path, *, clock: Clock | None = None,
                  watch_source: WatchSource | None = None,
                  notifier: Notifier | None = None) -> AsyncIterator[Daemon]:
    """The daemon serving ``config`` in this event loop until the block ends (then stopped);
    the seams not given are the real ones."""
    loaded = load_config(config)
    assert loaded.state is not None
    defaults = Seams()
    seams = Seams(clock or defaults.clock, watch_source or defaults.watch_source,
                  notifier or defaults.notifier)
    daemon = Daemon(loaded, loaded.state, seams=seams)
    result: list[int] = []
    async with anyio.create_task_group() as tg:
        async def serve() -> None:
            result.append(await daemon.run())
        tg.start_soon(serve)
        with anyio.fail_after(30):
            await daemon.ready.wait()
        try:
            yield daemon
        finally:
            daemon.stop()
    assert result == [0]

