"""The ``dlsync`` command line: parses flags, runs a command, turns its outcome into an exit code.

Exit codes (docs/operations.md): 0 in sync, 1 some items failed, 2 usage or config error,
3 authentication or permission error, 4 a safety limit stopped deletes, 5 the sync pair is locked.
"""

from __future__ import annotations

import sys

import click

from dlsync import __version__, logs
from dlsync.errors import EXIT_USAGE, DlsyncError, exit_code_for
from dlsync.gate.commands import gate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dlsync")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]), help="Log verbosity.")
@click.option("--log-json/--log-console", default=None,
              help="Log format (default: console on a TTY, JSON lines otherwise).")
def cli(log_level: str, log_json: bool | None) -> None:
    """Keep folders of ML data and their annotations mirrored into Dataloop datasets."""
    logs.configure(json=log_json, level=log_level)


cli.add_command(gate)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``dlsync`` console script."""
    try:
        code = cli.main(args=argv, prog_name="dlsync", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except DlsyncError as exc:
        click.echo(f"dlsync: {logs.scrub(str(exc))}", err=True)
        sys.exit(exit_code_for(exc))
    sys.exit(code if isinstance(code, int) else 0)
