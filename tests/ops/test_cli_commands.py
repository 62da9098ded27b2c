"""The command group: every command is listed, and ``gate`` is imported only when used."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from dlsync.cli import cli
from dlsync.model import Action, ActionKind, RelPath
from dlsync.progress import ProgressDisplay
from dlsync.push.job import Job
from dlsync.push.tally import Tally


def test_help_lists_every_command_including_the_lazy_gate() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    listed = result.output.split("Commands:", 1)[1].split()
    for name in ("doctor", "gate", "login", "ls", "mirror", "pull", "run", "status", "whoami"):
        assert name in listed


def test_gate_group_runs_through_the_lazy_entry() -> None:
    result = CliRunner().invoke(cli, ["gate", "--help"])
    assert result.exit_code == 0, result.output
    assert "serve" in result.output and "token" in result.output


def test_other_commands_do_not_import_the_gate() -> None:
    """A fresh interpreter that loads the CLI and runs a non-gate command has not imported
    the gate's server or token code (start-up every mirror, pull and status pays)."""
    code = ("import sys\n"
            "from dlsync.cli import cli\n"
            "try:\n"
            "    cli.main(['--version'], standalone_mode=False)\n"
            "finally:\n"
            "    print(sorted(m for m in sys.modules if m.startswith('dlsync.gate')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().endswith("[]"), out


def _collector_after(argv: list[str], *, entry: bool, tmp_path: Path) -> str:
    """Run ``dlsync ARGV`` in a fresh interpreter, through the entry point or through ``main``;
    its collector's thresholds and whether anything was frozen, as printed at exit."""
    call = "from dlsync.cli import entry as run\n" if entry else \
        "from dlsync.cli import main as run\n"
    code = ("import atexit, gc, sys\n"
            "before = gc.get_threshold()\n"
            "atexit.register(lambda: print(gc.get_threshold() == before,"
            " gc.get_freeze_count() > 0))\n"
            f"sys.argv = ['dlsync', *{argv!r}]\n"
            + call + "run()\n")
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "DLSYNC_TOKEN": "not-a-token"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, env=env, cwd=tmp_path)
    return done.stdout.strip().splitlines()[-1]


_MIRROR = ["mirror", "missing-folder", "--remote", "http://127.0.0.1:9/api/v1", "--project", "p",
           "--dataset", "d"]


def test_a_client_command_in_its_own_process_sets_the_collector(tmp_path: Path) -> None:
    """``dlsync mirror`` freezes its start-up heap and spaces young collections out (the
    command fails on its missing folder after that)."""
    assert _collector_after(_MIRROR, entry=True, tmp_path=tmp_path) == "False True"


def test_the_collector_is_left_alone_in_a_callers_process(tmp_path: Path) -> None:
    """Tests and programs that call ``dlsync.cli.main`` keep their own collector settings."""
    assert _collector_after(_MIRROR, entry=False, tmp_path=tmp_path) == "True False"


def test_other_commands_leave_the_collector_alone(tmp_path: Path) -> None:
    """``dlsync --version`` (like the gate) keeps CPython's defaults."""
    assert _collector_after(["--version"], entry=True, tmp_path=tmp_path) == "True False"


def test_a_mirror_without_a_terminal_never_loads_rich(tmp_path: Path) -> None:
    """rich draws the progress bar only: a mirror under cron, systemd or a pipe does not load
    it, and its log lines still come out (the missing folder is reported by name)."""
    code = ("import atexit, sys\n"
            "atexit.register(lambda: print('rich' in sys.modules))\n"
            f"sys.argv = ['dlsync', *{_MIRROR!r}]\n"
            "from dlsync.cli import entry\n"
            "entry()\n")
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "DLSYNC_TOKEN": "not-a-token"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, env=env, cwd=tmp_path)
    assert done.stdout.strip().splitlines()[-1] == "False"
    assert "missing-folder" in done.stderr, done.stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_draws_on_a_terminal() -> None:
    """On a terminal the bar is drawn (rich loaded on demand), with the run's totals."""
    tally = Tally()
    tally.planned["upload"] = 3
    out = _Terminal()
    with ProgressDisplay(tally, stream=out) as display:
        display.on_job(Job(Action(ActionKind.UPLOAD, RelPath("a.jpg"), "new")))
    assert "syncing" in out.getvalue() and "0/3" in out.getvalue()
