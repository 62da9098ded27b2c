"""``dlsync pull`` stopped by SIGTERM: exit 128 + 15, the run recorded as interrupted, finished
downloads kept, and the next pull completes the checkout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import anyio

from dlsync.gate.faults import FaultSettings
from dlsync.state.ops import RunKind, RunOutcome
from dlsync.state.queries import StateReader
from tests.mirror.conftest import DATASET, PROJECT, MirrorRun, Remote
from tests.pull.conftest import PullRun

FILES = 120


async def test_sigterm_stops_a_checkout_and_records_it_interrupted(
        mirror: MirrorRun, pull: PullRun, remote: Remote, source: Path,
        tmp_path: Path) -> None:
    """SIGTERM mid-checkout exits 143, records the pull interrupted; a rerun completes it."""
    for n in range(FILES):
        (source / f"f{n:04}.bin").write_bytes(n.to_bytes(4, "big") * 50)
    assert (await mirror("--create")).code == 0
    checkout = tmp_path / "checkout"
    checkout_state = tmp_path / "checkout.db"
    remote.gate.set_faults(FaultSettings(latency_ms=30))
    err_log = tmp_path / "pull.log"
    argv = [sys.executable, "-m", "dlsync", "--log-json", "pull", str(checkout), "--items",
            "--workers", "2", "--remote", remote.gate.url, "--project", PROJECT,
            "--dataset", DATASET, "--state", str(checkout_state)]
    with err_log.open("wb") as err:
        process = await anyio.open_process(argv, stdout=subprocess.DEVNULL, stderr=err,
                                           env={**os.environ, "DLSYNC_TOKEN": remote.token})
    try:
        with anyio.fail_after(60):
            while not checkout.is_dir() or len(list(checkout.glob("*.bin"))) < 5:
                assert process.returncode is None, err_log.read_text()
                await anyio.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(60):
            code = await process.wait()
    finally:
        await process.aclose()
    assert code == 128 + signal.SIGTERM, err_log.read_text()
    got = len(list(checkout.glob("*.bin")))
    assert 5 <= got < FILES
    with StateReader(checkout_state) as reader:
        pair = reader.pairs()[0][0]
        run = reader.last_run(pair, RunKind.PULL)
    assert run is not None and run.outcome is RunOutcome.INTERRUPTED

    remote.gate.set_faults(FaultSettings())
    code, out, err_text = await pull("--items", "--state", str(checkout_state),
                                       root=checkout)
    assert code == 0, out + err_text
    assert len(list(checkout.glob("*.bin"))) == FILES
