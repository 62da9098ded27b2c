"""`dlsync gate serve` as a real process: the listening line, auth, SIGTERM, and SIGKILL safety."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from dlsync.gate.server import GateOptions
from tests.conftest import GateFactory
from tests.gate.conftest import GateApi

LINE = re.compile(r"listening on (?P<url>http://\S+/api/v1) data=(?P<data>\S+)"
                  r"(?: token=(?P<token>\S+))?")


def _serve(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "dlsync", "gate", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)


@pytest.fixture
def served() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes started by a test; any still running are killed at teardown."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        assert process.stdout is not None
        process.stdout.close()


def _listening(process: subprocess.Popen[str]) -> re.Match[str]:
    assert process.stdout is not None
    line = process.stdout.readline()
    match = LINE.search(line)
    assert match is not None, f"unexpected first line: {line!r}"
    return match


async def test_serve_memory_prints_url_and_token_and_stops_on_sigterm(
    served: list[subprocess.Popen[str]],
) -> None:
    """The printed token works against the printed URL; SIGTERM stops the gate with exit 0."""
    process = _serve("--memory")
    served.append(process)
    match = _listening(process)
    headers = {"Authorization": f"Bearer {match['token']}"}
    async with aiohttp.ClientSession(headers=headers) as session, session.get(
        match["url"] + "/users/me"
    ) as response:
        assert response.status == 200
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0


async def test_serve_fail_first_answers_each_request_503_first(
    served: list[subprocess.Popen[str]],
) -> None:
    """``--fail-first 1``: a request's first attempt gets 503, its second the real answer."""
    process = _serve("--memory", "--fail-first", "1")
    served.append(process)
    match = _listening(process)
    statuses = []
    async with aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {match['token']}"}) as session:
        for _ in range(2):
            async with session.get(match["url"] + "/users/me") as response:
                statuses.append(response.status)
    assert statuses == [503, 200]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0


async def test_sigkilled_gate_keeps_every_acknowledged_upload(
    served: list[subprocess.Popen[str]], gate_factory: GateFactory, tmp_path: Path
) -> None:
    """After SIGKILL, a gate on the same data dir has every item and byte it acknowledged."""
    process = _serve("--data", str(tmp_path))
    served.append(process)
    url = _listening(process)["url"]
    token = subprocess.run(
        [sys.executable, "-m", "dlsync", "gate", "token", "--data", str(tmp_path)],
        capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        api = GateApi(session, url)
        dataset_id = await api.new_dataset("killed")
        acked = {}
        for n in range(30):
            status, _, item = await api.upload(dataset_id, f"/k/{n}.bin", f"content {n}".encode())
            assert status == 200
            acked[item["id"]] = f"content {n}".encode()
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)

    reopened = await gate_factory(GateOptions(data_dir=tmp_path))
    async with aiohttp.ClientSession(headers=headers) as session:
        for item_id, content in acked.items():
            async with session.get(f"{reopened.url}/items/{item_id}/stream") as response:
                assert response.status == 200 and await response.read() == content
