"""The config's ``[logging]`` table sets the level and format of a command given ``--config``;
``--log-level`` and ``--log-json/--log-console`` on the command line win over it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _config(tmp_path: Path, logging: str) -> Path:
    source = tmp_path / "data"
    source.mkdir(exist_ok=True)
    (source / "a.bin").write_bytes(b"a")
    path = tmp_path / "dlsync.toml"
    path.write_text(f'{logging}\n[pairs.main]\nsource = "{source}"\nremote = "local"\n'
                    'project = "p"\ndataset = "d"\ncreate = true\n', encoding="utf-8")
    return path


def _stderr(tmp_path: Path, config: Path, *flags: str) -> list[str]:
    """The log lines of ``dlsync [flags] mirror --config CONFIG --pair main`` on the embedded
    gate, which logs its start at debug level."""
    done = subprocess.run(
        [sys.executable, "-m", "dlsync", *flags, "mirror", "--config", str(config), "--pair",
         "main", "--state", str(tmp_path / "state.db"), "--gate-data", str(tmp_path / "gate"),
         "--json"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outcomes"]
    return done.stderr.splitlines()


DEBUG_JSON = '[logging]\nlevel = "debug"\nformat = "json"'


def test_the_config_sets_level_and_format(tmp_path: Path) -> None:
    """Without flags, ``level = "debug"`` and ``format = "json"`` are what the command logs."""
    lines = _stderr(tmp_path, _config(tmp_path, DEBUG_JSON))
    events = [json.loads(line) for line in lines]        # every line is JSON
    started = [e for e in events if e["event"] == "embedded gate started"]
    assert started and started[0]["level"] == "debug"


def test_log_level_on_the_command_line_wins(tmp_path: Path) -> None:
    """``--log-level info`` over ``level = "debug"``: the debug lines stay out."""
    lines = _stderr(tmp_path, _config(tmp_path, DEBUG_JSON), "--log-level", "info")
    assert not any("embedded gate started" in line for line in lines)


def test_log_console_on_the_command_line_wins(tmp_path: Path) -> None:
    """``--log-console`` over ``format = "json"``, the config's level kept: console lines."""
    lines = _stderr(tmp_path, _config(tmp_path, DEBUG_JSON), "--log-console")
    started = [line for line in lines if "embedded gate started" in line]
    assert started and not started[0].startswith("{") and "debug" in started[0]


def test_without_the_table_the_defaults_hold(tmp_path: Path) -> None:
    """No ``[logging]``: info level, so the gate's debug lines stay out."""
    lines = _stderr(tmp_path, _config(tmp_path, ""))
    assert not any("embedded gate started" in line for line in lines)
