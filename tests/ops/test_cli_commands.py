"""The command group: every command is listed, and ``gate`` is imported only when used."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from dlsync.cli import cli


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


def test_the_dlsync_process_sets_its_garbage_collector() -> None:
    """``python -m dlsync`` freezes its start-up heap and spaces young collections out."""
    code = ("import atexit, gc, sys\n"
            "atexit.register(lambda: print(gc.get_threshold(), gc.get_freeze_count() > 0))\n"
            "sys.argv = ['dlsync', '--version']\n"
            "import runpy\n"
            "runpy.run_module('dlsync', run_name='__main__')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().splitlines()[-1] == "(10000, 10, 10) True", out


def test_main_called_in_process_leaves_the_callers_collector_alone() -> None:
    """Tests and programs that call ``dlsync.cli.main`` keep their own collector settings."""
    code = ("import gc\n"
            "before = gc.get_threshold()\n"
            "from dlsync.cli import main\n"
            "try:\n"
            "    main(['--version'])\n"
            "except SystemExit:\n"
            "    pass\n"
            "print(gc.get_threshold() == before, gc.get_freeze_count())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().splitlines()[-1] == "True 0", out
