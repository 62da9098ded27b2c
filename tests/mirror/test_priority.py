"""CPU priority: a mirror or pull started as ``dlsync`` keeps the niceness it was started with
unless told ``low`` (niceness 10), reports it in its summary, and a process embedding dlsync
keeps its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio

from dlsync.gate.server import RunningGate
from dlsync.priority import LOW_NICENESS
from tests.mirror.conftest import DATASET, PROJECT, MirrorRun


async def _dlsync(gate: RunningGate, *argv: str, env: dict[str, str] | None = None,
                  nice: int = 0) -> dict[str, object]:
    """``dlsync <argv> --json`` as its own process (under ``nice -n NICE``): its summary."""
    command = [sys.executable, "-m", "dlsync", "--log-json", *argv, "--remote", gate.url,
               "--project", PROJECT, "--dataset", DATASET, "--json"]
    if nice:
        command = ["nice", "-n", str(nice), *command]
    with anyio.fail_after(60):
        done = await anyio.run_process(
            command, check=False,
            env={**os.environ, "DLSYNC_TOKEN": gate.mint_token(), **(env or {})})
    assert done.returncode == 0, done.stderr.decode()
    summary = json.loads(done.stdout)
    assert isinstance(summary, dict)
    return summary


def _own() -> int:
    return os.getpriority(os.PRIO_PROCESS, 0)


async def test_mirror_keeps_its_priority_unless_told_low(
        gate: RunningGate, source: Path, tmp_path: Path) -> None:
    """By default the mirror runs at the niceness it was started with and says so;
    ``--priority low`` and ``DLSYNC_PRIORITY=low`` raise it to 10, never lower it."""
    for n in range(5):
        (source / f"f{n}.bin").write_bytes(bytes([n]) * 100)
    state = str(tmp_path / "state.db")
    first = await _dlsync(gate, "mirror", str(source), "--create", "--state", state)
    assert first["priority"] == {"asked": "normal", "niceness": _own()}
    assert first["outcomes"] == {"upload.done": 5}

    low = await _dlsync(gate, "mirror", str(source), "--state", state, "--priority", "low")
    assert low["priority"] == {"asked": "low", "niceness": max(_own(), LOW_NICENESS)}
    from_env = await _dlsync(gate, "mirror", str(source), "--state", state,
                             env={"DLSYNC_PRIORITY": "low"})
    assert from_env["priority"] == {"asked": "low", "niceness": max(_own(), LOW_NICENESS)}

    nicer = await _dlsync(gate, "mirror", str(source), "--state", state, "--priority", "low",
                          nice=15)
    assert nicer["priority"] == {"asked": "low",
                                 "niceness": max(min(_own() + 15, 19), LOW_NICENESS)}


async def test_pull_reports_its_priority(gate: RunningGate, source: Path, tmp_path: Path,
                                        mirror: MirrorRun) -> None:
    """A pull takes ``--priority`` like a mirror and reports it."""
    (source / "a.bin").write_bytes(b"a" * 64)
    assert (await mirror("--create")).code == 0
    checkout = tmp_path / "checkout"
    summary = await _dlsync(gate, "pull", str(checkout), "--items", "--priority", "low",
                            "--state", str(tmp_path / "checkout.db"))
    assert summary["priority"] == {"asked": "low", "niceness": max(_own(), LOW_NICENESS)}
    assert (checkout / "a.bin").read_bytes() == b"a" * 64


async def test_an_embedding_process_keeps_its_priority(mirror: MirrorRun,
                                                      source: Path) -> None:
    """``dlsync.cli.main`` called in a program (here, the test's) leaves its niceness alone
    and says why in the summary."""
    (source / "a.bin").write_bytes(b"a")
    before = _own()
    outcome = await mirror("--create", "--json", "--priority", "low")
    assert outcome.code == 0, outcome.err
    assert json.loads(outcome.out)["priority"] == {
        "asked": "low", "niceness": before,
        "note": "not dlsync's own process (embedded); left as it was"}
    assert _own() == before


def test_help_names_the_option_and_its_variable() -> None:
    """``--priority`` is documented on the commands that sync, with its variable."""
    for command in ("mirror", "pull", "run"):
        done = subprocess.run([sys.executable, "-m", "dlsync", command, "--help"],
                              capture_output=True, text=True, check=True)
        assert "--priority [low|normal]" in done.stdout, command
        assert "DLSYNC_PRIORITY" in done.stdout, command
