"""Reconcile, sd_notify and the watcher fallback of a running service."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from pathlib import Path

from structlog.testing import capture_logs

from dlsync import constants
from dlsync.gate.server import RunningGate
from dlsync.local.watch import Watch
from dlsync.service.notify import Notifier
from tests.eventually import eventually
from tests.fakeclock import FakeClock
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
    """READY=1, STATUS=, WATCHDOG=1 and STOPPING=1 reach the notify socket; STATUS= again
    every ``STATUS_EVERY_S`` and WATCHDOG=1 at half the watchdog interval, on the clock."""
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

        def heard() -> tuple[int, int]:
            """How many STATUS= and WATCHDOG=1 lines arrived so far."""
            drain()
            return (sum(line.startswith("STATUS=pending") for line in received),
                    received.count("WATCHDOG=1"))

        clock = FakeClock()
        async with running(config, notifier=notifier, clock=clock):
            await eventually(lambda: min(heard()) >= 1)
            await eventually(lambda: clock.waiting(constants.STATUS_EVERY_S))
            statuses, watchdogs = heard()
            clock.advance(constants.STATUS_EVERY_S)
            await eventually(lambda: heard()[0] > statuses and heard()[1] > watchdogs)
        drain()
    assert received.index("READY=1") < received.index("STOPPING=1")
    assert received[-2:] == ["STOPPING=1", "STATUS=stopping"]


FALLBACK_STEP_S = constants.FALLBACK_SCAN_S / 10
"""How far the clock moves between two looks at the platform: a scan every tenth look."""


class _NoWatches:
    """A watch source that fails as inotify does when the watch limit is reached."""

    def open(self, paths: Sequence[Path]) -> Watch:
        raise OSError(28, "No space left on device (inotify watch limit)")


async def test_watcher_failure_falls_back_to_periodic_scans(
        tmp_path: Path, gate: RunningGate, source: Path, platform: Platform) -> None:
    """Without a watcher the service warns with the remedy and still syncs, by a full scan
    every ``FALLBACK_SCAN_S`` on the clock."""
    config = write_config(tmp_path, gate, source)
    clock = FakeClock()
    with capture_logs() as logs:
        async with running(config, watch_source=_NoWatches(), clock=clock):
            (source / "late.txt").write_bytes(b"found by a scan")
            await platform.wait_for(lambda found: "/late.txt" in found,
                                    meanwhile=lambda: clock.advance(FALLBACK_STEP_S))
    warnings = [e for e in logs if e["event"].startswith("filesystem watcher unavailable")]
    assert warnings and "max_user_watches" in warnings[0]["remedy"]

