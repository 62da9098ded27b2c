"""``bwlimit``: one byte budget per remote, measured against real transfers to the gate.

The rate assertions hold the measured rate within 10 % of the limit, as the feature promises;
each transfer is a few MiB at 2 MiB/s, so a test takes about two seconds.
"""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest

from dlsync.config import parse_text
from dlsync.errors import ConfigError
from dlsync.gate.server import RunningGate
from dlsync.remote import connect
from dlsync.remote.bandwidth import Bandwidth
from dlsync.remote.client import DataloopClient
from dlsync.remote.credentials import Credentials
from dlsync.remote.types import DatasetJson
from dlsync.units import parse_rate, parse_size
from tests.remote.conftest import EMAIL, settings_for, unique

MIB = 1 << 20
LIMIT = 2.0 * MIB
CONFIG = Path("/etc/dlsync/dlsync.toml")


@pytest.mark.parametrize(("text", "rate"), [
    ("10M", 10.0 * MIB), ("10m", 10.0 * MIB), ("10Mi", 10.0 * MIB), ("10MiB", 10.0 * MIB),
    ("512", 512.0 * 1024), ("1.5K", 1536.0), ("100B", 100.0), ("1G", float(1 << 30)),
    ("off", None), ("0", None), ("OFF", None),
])
def test_rates_parse_as_rclone_reads_them(text: str, rate: float | None) -> None:
    """Binary suffixes; a bare number is KiB/s; off and 0 mean no limit."""
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["10MB", "fast", "1e6", "-1M", "08:00,512k", "10M:1M", "0.1B"])
def test_rates_refused(text: str) -> None:
    """Decimal units, timetables, up:down pairs and nonsense are refused with a reason."""
    with pytest.raises(ValueError, match=r"\w"):
        parse_rate(text)


def test_sizes_parse() -> None:
    """Sizes follow the same rules."""
    assert (parse_size("64M"), parse_size("64"), parse_size("1B")) == (64 * MIB, 64 * 1024, 1)


def test_remote_keys_in_the_config_file() -> None:
    """bwlimit (a string with its unit), stall_timeout, blind_retry_max_size (bytes or a size),
    max_attempts, max_total_wait, ca_file and verify_ssl are keys of a remote, and reach the
    client's settings."""
    config = parse_text("""
[remotes.corp]
url = "https://gate.example/api/v1"
bwlimit = "10M"
stall_timeout = 30
blind_retry_max_size = "256M"
max_attempts = 2
max_total_wait = 4.5
ca_file = "certs/corp.pem"
verify_ssl = false
""", CONFIG)
    remote = config.remotes["corp"]
    assert (remote.bwlimit, remote.stall_timeout, remote.blind_retry_max_size) == \
        (10.0 * MIB, 30.0, 256 * MIB)
    assert (remote.ca_file, remote.verify_ssl) == (Path("/etc/dlsync/certs/corp.pem"), False)
    client = connect.settings_for(remote, env={})
    assert (client.max_attempts, client.max_total_wait, client.stall_timeout) == (2, 4.5, 30.0)
    pacer = client.pacer_settings()
    assert (pacer.max_attempts, pacer.max_total_wait) == (2, 4.5)
    with pytest.raises(ConfigError, match=r"remotes\.corp\.max_attempts"):
        parse_text('[remotes.corp]\nurl = "https://g.example"\nmax_attempts = 0\n', CONFIG)
    with pytest.raises(ConfigError, match=r"remotes\.corp\.max_total_wait"):
        parse_text('[remotes.corp]\nurl = "https://g.example"\nmax_total_wait = 0\n', CONFIG)
    with pytest.raises(ConfigError, match=r"remotes\.corp\.bwlimit"):
        parse_text('[remotes.corp]\nurl = "https://g.example"\nbwlimit = 10\n', CONFIG)
    with pytest.raises(ConfigError, match="10MB"):
        parse_text('[remotes.corp]\nurl = "https://g.example"\nbwlimit = "10MB"\n', CONFIG)


class FakeClock:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_budget_spaces_bytes_at_the_rate() -> None:
    """Ten takes of 1 KiB at 1 KiB/s end ten seconds later; an idle budget saves at most
    BANDWIDTH_BURST_S of bytes; no limit never waits."""
    clock = FakeClock()
    budget = Bandwidth(1024.0, clock=clock)
    for _ in range(10):
        await budget.take(1024)
    assert clock.now == pytest.approx(110.0)
    clock.now += 60.0
    await budget.take(1024)
    assert clock.now == pytest.approx(170.9)
    unlimited = Bandwidth(None, clock=clock)
    await unlimited.take(1 << 30)
    assert clock.now == pytest.approx(170.9)


@pytest.fixture
async def limited(gate: RunningGate) -> DataloopClient:
    """A client of the gate with a 2 MiB/s budget (closed with the gate's event loop)."""
    creds = Credentials(gate.mint_token(email=EMAIL, ttl=3600))
    return DataloopClient(settings_for(gate, bwlimit=LIMIT), creds)


async def _dataset(client: DataloopClient) -> DatasetJson:
    project = await client.get_project(unique("bw"), create=True)
    return await client.get_dataset(project["id"], unique("bw"), create=True)


def _file(path: Path, size: int) -> Path:
    path.write_bytes(bytes(range(256)) * (size // 256))
    return path


def within_ten_percent(moved: int, seconds: float) -> float:
    rate = moved / seconds
    print(f"measured {rate / MIB:.3f} MiB/s under a {LIMIT / MIB:.0f} MiB/s limit")
    assert 0.9 * LIMIT <= rate <= 1.1 * LIMIT, f"{rate / MIB:.3f} MiB/s"
    return rate


@pytest.mark.slow
async def test_upload_rate_is_held(limited: DataloopClient, tmp_path: Path) -> None:
    """A 4 MiB upload under a 2 MiB/s limit moves at 2 MiB/s, within 10 %."""
    async with limited as client:
        dataset = await _dataset(client)
        local = _file(tmp_path / "up.bin", 4 * MIB)
        started = time.monotonic()
        await client.upload(dataset["id"], local, "/up.bin")
        within_ten_percent(4 * MIB, time.monotonic() - started)


@pytest.mark.slow
async def test_download_rate_is_held(gate: RunningGate, tmp_path: Path) -> None:
    """A 4 MiB download under a 2 MiB/s limit moves at 2 MiB/s, within 10 %."""
    creds = Credentials(gate.mint_token(email=EMAIL, ttl=3600))
    async with DataloopClient(settings_for(gate), creds) as fast:
        dataset = await _dataset(fast)
        item = await fast.upload(dataset["id"], _file(tmp_path / "d.bin", 4 * MIB), "/d.bin")
    async with DataloopClient(settings_for(gate, bwlimit=LIMIT), creds) as client:
        started = time.monotonic()
        got = sum([len(chunk) async for chunk in client.download(item.item["id"])])
        within_ten_percent(got, time.monotonic() - started)
    assert got == 4 * MIB


@pytest.mark.slow
async def test_uploads_and_downloads_share_one_budget(gate: RunningGate,
                                                      tmp_path: Path) -> None:
    """Two uploads and a download at once: together they move at the one 2 MiB/s limit."""
    creds = Credentials(gate.mint_token(email=EMAIL, ttl=3600))
    async with DataloopClient(settings_for(gate), creds) as fast:
        dataset = await _dataset(fast)
        item = await fast.upload(dataset["id"], _file(tmp_path / "d.bin", 2 * MIB), "/d.bin")
    sizes: list[int] = []
    async with DataloopClient(settings_for(gate, bwlimit=LIMIT), creds) as client:

        async def up(n: int) -> None:
            local = _file(tmp_path / f"u{n}.bin", MIB)
            sizes.append((await client.upload(dataset["id"], local, f"/u{n}.bin")).size)

        async def down() -> None:
            sizes.append(sum([len(c) async for c in client.download(item.item["id"])]))

        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            tg.start_soon(up, 1)
            tg.start_soon(up, 2)
            tg.start_soon(down)
        within_ten_percent(sum(sizes), time.monotonic() - started)
    assert sorted(sizes) == [MIB, MIB, 2 * MIB]
