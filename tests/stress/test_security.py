"""Security: the token never leaks, state is private, remote names cannot escape either root."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlsync.constants import GATE_HOST
from dlsync.gate.auth import TokenAuthority
from dlsync.gate.server import RunningGate
from dlsync.local.ignore import IgnoreRules
from dlsync.local.scan import scan
from dlsync.model import LocalEntry, is_contained, remote_filename
from dlsync.remote.client import DataloopClient
from dlsync.remote.credentials import Credentials
from dlsync.remote.dataset import remote_item
from dlsync.remote.settings import RemoteSettings

NAME_CHARS = st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",))


async def _dlsync(token: str, *argv: str) -> tuple[int, str]:
    """Run ``dlsync ARGV`` as a child process (the gate keeps serving); code and all output."""
    env = {**os.environ, "DLSYNC_TOKEN": token}
    env.pop("DLSYNC_CONFIG", None)
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dlsync", *argv, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    out, _ = await child.communicate()
    return child.returncode or 0, out.decode("utf-8", "replace")


def _mirror_args(gate: RunningGate, source: Path, state: Path, *extra: str,
                 remote: str | None = None) -> list[str]:
    return ["--log-level", "debug", "--log-json", "mirror", str(source),
            "--remote", remote or gate.url,
            "--project", "sec", "--dataset", "tree", "--state", str(state), "--no-progress",
            *extra]


def _assert_secret_free(text: str | bytes, token: str, where: str) -> None:
    signature = token.rsplit(".", 1)[1]
    blob = text.encode() if isinstance(text, str) else text
    assert token.encode() not in blob, f"the token appears in {where}"
    assert signature.encode() not in blob, f"the token's signature appears in {where}"


async def test_token_never_appears_in_logs_plans_status_or_state(
        gate: RunningGate, tmp_path: Path) -> None:
    """Debug JSON logs, failing runs, plans, status and the raw state files hold no token."""
    token = gate.mint_token()
    source, state = tmp_path / "data", tmp_path / "state" / "state.db"
    source.mkdir()
    for n in range(3):
        (source / f"f{n}.jpg").write_bytes(b"x" * n)
    (source / "f1.jpg.json").write_text(json.dumps({"annotations": [
        {"type": "class", "label": "cat", "coordinates": []}]}))
    outputs = {}
    code, outputs["debug run"] = await _dlsync(token, *_mirror_args(gate, source, state,
                                                                      "--create", "--json"))
    assert code == 0, outputs["debug run"][-3000:]
    (source / "f9.jpg").write_bytes(b"new")
    _, outputs["dry-run text"] = await _dlsync(token, *_mirror_args(gate, source, state,
                                                                      "--dry-run"))
    _, outputs["dry-run JSON"] = await _dlsync(token, *_mirror_args(gate, source, state,
                                                                      "--dry-run", "--json"))
    assert "f9.jpg" in outputs["dry-run text"] and "f9.jpg" in outputs["dry-run JSON"]
    gate.set_faults(gate_faults(fail_rate=1.0))
    # a remote of the config that gives up after two tries, so the failing run ends quickly
    config = tmp_path / "dlsync.toml"
    config.write_text(f'[remotes.gate]\nurl = "{gate.url}"\nmax_attempts = 2\n')
    code, outputs["run against 5xx"] = await _dlsync(
        token, *_mirror_args(gate, source, state, "--config", str(config), remote="gate"))
    assert code != 0 and '"level": "warning"' in outputs["run against 5xx"]
    gate.set_faults(gate_faults())
    foreign = TokenAuthority(b"another secret entirely, 32 bytes!").mint("x@y.z", 3600)
    code, outputs["rejected token"] = await _dlsync(foreign, *_mirror_args(gate, source, state))
    assert code == 3, outputs["rejected token"][-2000:]
    _assert_secret_free(outputs["rejected token"], foreign, "a rejected-token run")
    _, outputs["status"] = await _dlsync(token, "status", "--state", str(state))
    _, outputs["status JSON"] = await _dlsync(token, "status", "--state", str(state), "--json")
    assert "sec" in outputs["status"]
    for where, text in outputs.items():
        _assert_secret_free(text, token, where)
    for path in state.parent.iterdir():
        if path.name.startswith(state.name):
            _assert_secret_free(path.read_bytes(), token, path.name)
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, f"{path.name} is not private"


def gate_faults(**settings: float) -> object:
    from dlsync.gate.faults import FaultSettings
    return FaultSettings(**settings)  # type: ignore[arg-type]


def test_gate_serves_loopback_unless_told_otherwise() -> None:
    """``dlsync gate serve`` binds 127.0.0.1 by default."""
    out = subprocess.run([sys.executable, "-m", "dlsync", "gate", "serve", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert GATE_HOST == "127.0.0.1"
    assert "127.0.0.1" in out


async def test_gate_url_is_loopback(gate: RunningGate) -> None:
    """The test gate, started with default options, listens on loopback."""
    assert gate.url.startswith("http://127.0.0.1:")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(NAME_CHARS, min_size=1, max_size=6), min_size=1, max_size=4),
       st.sampled_from(["/", "/dir", "/a/b"]))
def test_any_remote_name_maps_inside_the_root_or_nowhere(segments: list[str],
                                                         remote_dir: str) -> None:
    """A platform item's name becomes a contained relative path, or the item is skipped."""
    filename = remote_dir.rstrip("/") + "/" + "/".join(segments)
    found = remote_item({"id": "i", "filename": filename, "metadata": {}},  # type: ignore[typeddict-item]
                        remote_dir)
    if found is not None:
        assert is_contained(found.path)
        resolved = os.path.normpath(os.path.join("/root", found.path))
        assert resolved.startswith("/root/")


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sets(st.text(NAME_CHARS, min_size=1, max_size=20).filter(
    lambda n: n not in (".", "..") and len(n.encode()) <= 255), min_size=1, max_size=5))
def test_scanned_names_map_to_items_directly_under_the_remote_folder(
        tmp_path_factory: pytest.TempPathFactory, names: set[str]) -> None:
    """Whatever a file is called, its remote filename sits directly in the remote folder."""
    root = tmp_path_factory.mktemp("names")
    for name in names:
        try:
            (root / name).write_bytes(b"x")
        except OSError:
            continue
    for found in scan(root, rules=IgnoreRules.from_patterns([])):
        if isinstance(found, LocalEntry):
            filename = remote_filename("/dir", found.path)
            assert os.path.dirname(filename) == "/dir", filename
            assert is_contained(found.path)


async def test_pull_writes_nothing_outside_the_root_for_hostile_item_names(
        gate: RunningGate, tmp_path: Path) -> None:
    """Items named ``/..\\..\\x`` download inside the root under their literal name."""
    token = gate.mint_token()
    sample = tmp_path / "sample.jpg"
    sample.write_bytes(b"payload")
    async with DataloopClient(RemoteSettings(url=gate.url),
                              Credentials(token=token, source="test")) as client:
        project = await client.get_project("sec", create=True)
        dataset = await client.get_dataset(project["id"], "pull", create=True)
        for name in ("/..\\..\\escaped.jpg", "/ok.jpg"):
            await client.upload(dataset["id"], sample, name)
    root = tmp_path / "a" / "b" / "root"
    root.mkdir(parents=True)
    code, out = await _dlsync(token, "pull", str(root), "--remote", gate.url, "--project", "sec",
                              "--dataset", "pull", "--items", "--annotations", "none",
                              "--state", str(tmp_path / "state.db"))
    assert code == 0, out[-2000:]
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and root not in p.parents
               and p.name not in ("sample.jpg", "state.db") and not p.name.startswith("state.db")]
    assert outside == []
    assert sorted(p.name for p in root.iterdir()) == ["..\\..\\escaped.jpg", "ok.jpg"]
