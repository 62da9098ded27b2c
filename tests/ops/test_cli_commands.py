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
