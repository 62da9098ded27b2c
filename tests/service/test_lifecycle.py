"""Reconcile, sd_notify and the watcher fallback of a running service."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest
from structlog.testing import capture_logs

from dlsync.gate.server import RunningGate
from dlsync.local.watch import Watch
from dlsync.service.notify import Notifier
from tests.service.conftest import Platform, running, write_config


async def test_reconcile_restores_item_deleted_on_platform(
        tmp_path: Path, gate: RunningGate, source: Path, platform: Platform) -> None:
    """An item deleted on the platform is uploaded again by the next reconcile (SIGHUP)."""
    (source / "a.txt").write_bytes(b"keep me")
    config = write_config(tmp_path, gate, source)
    async with running(config) as daemon:
        items = await platform.wait_for(lambda found: "/a.txt" in found)
        await platform.client.delete_item(items["/a.txt"]["id"])
        await platform.wait_for(lambda found: "/a.txt" not in found)
        daemon.reconcile()
        restored = await platform.wait_for(lambda found: "/a.txt" in found)
    assert restored["/a.txt"]["id"] != items["/a.txt"]["id"]


async def test_sd_notify_messages_arrive(tmp_path: Path, gate: RunningGate, source: Path,
                                         platform: Platform) -> None:
    """READY=1, STATUS=, WATCHDOG=1 and STOPPING=1 reach the notify socket."""
    address = str(tmp_path / "notify.sock")
    received: list[str] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.setblocking(False)
        notifier = Notifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "200000"})
        config = write_config(tmp_path, gate, source)

        def drain() -> None:
            while True:
                try:
                    received.extend(sock.recv(4096).decode().splitlines())
                except BlockingIOError:
                    return

        async with running(config, notifier=notifier):
            with anyio.fail_after(10):
                while "WATCHDOG=1" not in received or not any(
                        line.startswith("STATUS=pending") for line in received):
                    drain()
                    await anyio.sleep(0.05)
        drain()
    assert received.index("READY=1") < received.index("STOPPING=1")
    assert received[-2:] == ["STOPPING=1", "STATUS=stopping"]


class _NoWatches:
    """A watch source that fails as inotify does when the watch limit is reached."""

    def open(self, paths: Sequence[Path]) -> Watch:
        raise OSError(28, "No space left on device (inotify watch limit)")


async def test_watcher_failure_falls_back_to_periodic_scans(
        tmp_path: Path, gate: RunningGate, source: Path, platform: Platform) -> None:
    """Without a watcher the service warns with the remedy and still syncs by scanning."""
    config = write_config(tmp_path, gate, source, reconcile_interval=0.5)
    with capture_logs() as logs:
        async with running(config, watch_source=_NoWatches()):
            (source / "late.txt").write_bytes(b"found by a scan")
            await platform.wait_for(lambda found: "/late.txt" in found)
    warnings = [e for e in logs if e["event"].startswith("filesystem watcher unavailable")]
    assert warnings and "max_user_watches" in warnings[0]["remedy"]


@pytest.fixture(autouse=True)
def _short_status(monkeypatch: pytest.MonkeyPatch) -> None:
    """Status updates every 0.1 s so the notify test sees one quickly."""
    monkeypatch.setattr("dlsync.constants.STATUS_EVERY_S", 0.1)
