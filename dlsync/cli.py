"""The ``dlsync`` command line: parses flags, runs a command, turns its outcome into an exit code.

Exit codes (docs/operations.md): 0 in sync, 1 some items failed, 2 usage or config error,
3 authentication or permission error, 4 a safety limit stopped deletes, 5 the sync pair is locked.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import click

from dlsync import __version__, collector, constants, logs, priority
from dlsync.cli_options import (
    BWLIMIT_OPTION,
    DIR_PATH,
    FILE_PATH,
    PRIORITY_OPTION,
    account_options,
    account_remote,
    config_logging,
    pair_options,
    priority_option,
    resolve_pair,
    with_logins,
)
from dlsync.errors import EXIT_USAGE, DlsyncError, exit_code_for

if TYPE_CHECKING:
    pass


class _Commands(click.Group):
    """dlsync's commands, with ``gate`` imported only when it is run or listed: the gate's
    server and token code (aiohttp.web, jwt) would add about 20 ms to every other command's
    start-up."""

    _LAZY: ClassVar[dict[str, tuple[str, str]]] = {"gate": ("dlsync.gate.commands", "gate")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self._LAZY])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._LAZY:
            module, name = self._LAZY[cmd_name]
            command = getattr(importlib.import_module(module), name)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dlsync")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]), help="Log verbosity.")
@click.option("--log-json/--log-console", default=None,
              help="Log format (default: console on a TTY, JSON lines otherwise).")
def cli(log_level: str, log_json: bool | None) -> None:
    """Keep folders of ML data and their annotations mirrored into Dataloop datasets."""
    logs.configure(json=log_json, level=log_level)


@cli.command()
@pair_options
@click.option("--create/--no-create", default=None, help="Create the project and dataset "
              "when missing.")
@click.option("--delete/--no-delete", default=None, help="Delete remote items whose local file "
              "is gone (last, only after an error-free run).")
@click.option("--max-delete", type=click.IntRange(min=0), help="Refuse every delete when the "
              "plan has more.  [default: 100, and at most half of the tracked files]")
@click.option("--max-delete-annotations", type=click.IntRange(min=0), help="Refuse every "
              "annotation delete when the plan has more.  [default: 1000, and past 100 at most "
              "half of the annotations dlsync owns]")
@click.option("--delete-excluded", is_flag=True, default=None, help="With --delete, also "
              "delete remote items of paths the ignore rules exclude.")
@click.option("--allow-empty-root", is_flag=True, default=None, help="Go on when the source or "
              "annotation folder is empty or missing although state tracks files there.")
@click.option("--backup-dir", help="Move deleted items into this dataset folder (dated "
              "subfolder, ids and annotations kept) instead of deleting them.")
@click.option("--conflict", type=click.Choice(["keep-both", "local", "remote"]),
              help="An annotation conflict a pull left open: leave it (keep-both, remote) or "
              "push the local file over it (local).  [default: keep-both]")
@click.option("--labels", type=click.Choice(["ensure", "off"]), help="Add labels the "
              "annotations use to the dataset's ontology before posting them (only adds). "
              " [default: ensure]")
@click.option("--task", help="Add every item uploaded or adopted to this task (created when "
              "missing).")
@click.option("--task-assignee", "task_assignees", multiple=True, help="Assignee of a task "
              "dlsync creates (repeatable).  [default: the token's user]")
@click.option("--task-backfill", is_flag=True, help="Also add, once, the pair's synced items "
              "that are in no task yet.")
@click.option("--full-listing", is_flag=True, help="List every item of the remote folder, not "
              "only those changed since the last run (docs/operations.md, \"Incremental "
              "remote listing\").")
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
@click.option("--rate", type=click.FloatRange(min=0.1), help="Maximum requests per second.")
@click.option("--concurrency", type=click.IntRange(min=1), help="Most requests in flight (a hard "
              "cap; the limit adapts below it).  [default: 64]")
@BWLIMIT_OPTION
@PRIORITY_OPTION
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a "
              "terminal).")
def mirror(create: bool | None, delete: bool | None, max_delete: int | None,
           conflict: str | None, dry_run: bool, rate: float | None, concurrency: int | None,
           progress: bool | None, **options: Any) -> int:
    """Mirror the folder SOURCE into a Dataloop dataset, once.

    Exit codes: 0 in sync; 1 some items failed (retried next run); 2 usage or config error;
    3 authentication error; 4 a safety limit stopped deletes; 5 another run holds the lock;
    6 the state database is unusable (disk full, corrupt).
    """
    applied = _set_priority(options.pop("priority"))
    from dlsync.push.command import MirrorRequest, mirror_sync

    collector.settle()
    safety = {key: options.pop(key) for key in ("max_delete_annotations", "delete_excluded",
                                                "allow_empty_root", "backup_dir", "labels",
                                                "task")}
    assignees = options.pop("task_assignees")
    safety["task_assignees"] = list(assignees) if assignees else None
    backfill = options.pop("task_backfill")
    full_listing = options.pop("full_listing")
    pair, state = resolve_pair(options, create=create, delete=delete, max_delete=max_delete,
                               conflict=conflict, rate=rate, concurrency=concurrency, **safety)
    request = MirrorRequest(pair=pair, state=state, dry_run=dry_run,
                            as_json=options["as_json"],
                            gate_data=options["gate_data"], progress=progress,
                            backfill=backfill, full_listing=full_listing, priority=applied)
    return mirror_sync(request)


@cli.command()
@pair_options
@click.option("--items", is_flag=True, help="Also download items missing locally (a dataset "
              "checkout); resumable.")
@click.option("--full", is_flag=True, help="Look at every item, not only those changed since "
              "the last pull.")
@click.option("--conflict", type=click.Choice(["keep-both", "local", "remote"]),
              help="When both sides changed an item's annotations: keep both (the platform's "
              "version beside the file), or let one side win.  [default: keep-both]")
@click.option("--task", help="The pair's task, whose statuses (and its QA tasks') --status "
              "reads.")
@click.option("--status", "pull_status", help="Write only the annotations of items with one of "
              "these task statuses (comma-separated, e.g. completed,approved) in the pair's "
              "task or its QA tasks (without a task: in any task).")
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@BWLIMIT_OPTION
@PRIORITY_OPTION
def pull(items: bool, full: bool, conflict: str | None, task: str | None,
         pull_status: str | None, dry_run: bool, **options: Any) -> int:
    """Bring the platform's annotations of a dataset into the folder SOURCE, once.

    Exit codes: 0 in sync; 1 some items failed or are in conflict (both versions kept);
    2 usage or config error; 3 authentication error; 5 another run holds the lock.
    """
    applied = _set_priority(options.pop("priority"))
    from dlsync.pull.command import PullRequest, pull_sync
    from dlsync.pull.puller import PullOptions

    collector.settle()
    pair, state = resolve_pair(options, conflict=conflict, task=task, pull_status=pull_status)
    request = PullRequest(pair=pair, state=state,
                          options=PullOptions(items=items, full=full, dry_run=dry_run),
                          as_json=options["as_json"], gate_data=options["gate_data"],
                          priority=applied)
    return pull_sync(request)


@cli.command("run")
@click.option("--config", "config_path", type=FILE_PATH, help="Config file with the sync pairs to "
              "serve.  [default: $DLSYNC_CONFIG, ~/.config/dlsync/dlsync.toml, "
              "/etc/dlsync/dlsync.toml]")
@click.option("--state", type=FILE_PATH, help="State database.  [default: the config's [state] "
              "path, else $XDG_STATE_HOME/dlsync/state.db]")
@click.option("--gate-data", type=DIR_PATH, hidden=True,
              help="Data folder of the embedded gate.")
@priority_option(default="the config's [service] priority, else normal")
def run(config_path: Path | None, state: Path | None, gate_data: Path | None,
        priority: str | None) -> int:
    """Serve every sync pair of the config until stopped (the background service).

    SIGTERM/SIGINT stop gracefully; SIGHUP reconciles every pair now. Exit codes: 0 stopped
    cleanly; 2 usage or config error; 3 authentication error; 5 a pair is locked by another run.
    """
    import dataclasses

    from dlsync import loops
    from dlsync.config import default_config_path, load_config
    from dlsync.push.command import state_path_for
    from dlsync.service.daemon import run_service

    collector.settle()
    path = config_path or default_config_path()
    if path is None:
        raise click.UsageError("no config found: pass --config FILE or set $DLSYNC_CONFIG")
    config = load_config(path)
    config_logging(config)
    _set_priority(priority, default=config.service.priority)
    database = state_path_for(state, config)
    pairs = {name: with_logins(pair, database) for name, pair in config.pairs.items()}
    config = dataclasses.replace(config, pairs=pairs)
    return loops.run(lambda: run_service(config, database, gate_data=gate_data))


@cli.command("ls")
@click.option("--project", required=True, help="Dataloop project name.")
@click.option("--dataset", required=True, help="Dataset name in the project.")
@click.option("--remote", default=constants.PRODUCTION_REMOTE, show_default=True,
              help='API base URL, or "local" for the embedded gate.')
@click.option("--remote-dir", default="/", show_default=True, help="Dataset folder to list.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per item.")
def ls(project: str, dataset: str, remote: str, remote_dir: str, as_json: bool) -> int:
    """List the items of a dataset folder: size, annotation count, whether dlsync synced it."""
    from dlsync import loops
    from dlsync.config import pair_from_flags
    from dlsync.ls import DatasetFolder, list_folder

    pair = pair_from_flags(source=".", project=project, dataset=dataset, remote=remote,
                           remote_dir=remote_dir)
    folder = DatasetFolder(pair.remote, project, dataset, pair.remote_dir)
    loops.run(lambda: list_folder(folder, sys.stdout, as_json=as_json))
    return 0


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON document (docs/operations.md).")
@click.option("--config", "config_path", type=FILE_PATH, help="Config file: show its pairs, and "
              "use its [state] path.")
@click.option("--state", type=FILE_PATH, help="State database.  [default: "
              "$XDG_STATE_HOME/dlsync/state.db]")
def status(as_json: bool, config_path: Path | None, state: Path | None) -> int:
    """Show each sync pair's file counts, last errors and runs, and whether the service runs.

    Reads the state database without writing it; safe while the service or a mirror runs.
    """
    from dlsync.push.command import load_optional_config, state_path_for
    from dlsync.status import show

    config = load_optional_config(config_path)
    config_logging(config)
    return show(state_path_for(state, config), config, sys.stdout, as_json=as_json)


@cli.command()
@click.option("--remote", default=constants.PRODUCTION_REMOTE, show_default=True,
              help='API base URL, or "local" for the embedded gate.')
@click.option("--project", help="Dataloop project name: check access to it (and probe in it).")
@click.option("--probe", is_flag=True, help="Check the gate's guesses about the platform in a "
              "scratch dataset of --project (created, then deleted).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON document.")
@click.option("--tick", type=click.FloatRange(min=0.0), default=constants.DOCTOR_TICK_S,
              hidden=True, help="Seconds waited before a change whose updatedAt must move.")
@click.option("--gate-data", type=DIR_PATH, hidden=True,
              help="Data folder of the embedded gate.")
def doctor(remote: str, project: str | None, probe: bool, as_json: bool, tick: float,
           gate_data: Path | None) -> int:
    """Check connectivity, TLS, proxy, auth, clock skew and project access of a remote.

    With --probe, also check each guess the local gate makes about the platform (docs/gate.md)
    in a scratch dataset, and print a table of assumption, expected, seen. Exit codes: 0 every
    row holds; 1 a row differs or could not be checked; 2 usage error; 3 cannot authenticate.
    """
    from dlsync.doctor.command import DoctorRequest, remote_for, run_doctor

    request = DoctorRequest(remote=remote_for(remote), project=project, probe=probe, tick=tick,
                            gate_data=gate_data)
    return run_doctor(request, sys.stdout, as_json=as_json)


@cli.command("login")
@account_options
@click.option("--email", help="The machine user's e-mail (asked for when not given).")
@click.option("--password-file", type=FILE_PATH, help="Read the password from this file (kept as "
              "its path, so dlsync can log in again by itself).  [default: the systemd "
              "credential dlsync-password, else a hidden prompt]")
def login_command(remote: str, config_path: Path | None, state: Path | None, email: str | None,
                  password_file: Path | None) -> int:
    """Log in to a remote with e-mail and password (a machine user), as dtlpy's login_m2m does.

    The tokens are kept in dlsync's login store beside the state database (mode 0600) and
    used by mirror, pull and run. Exit codes: 0 logged in; 2 usage error; 3 login refused.
    """
    import os

    from dlsync import loops
    from dlsync.account import LoginRequest, login
    from dlsync.remote.logins import password_source

    target = account_remote(remote, config_path, state)
    source = password_source(password_file, os.environ)
    email = email or click.prompt("E-mail")
    password = (source.read(os.environ) if source else
                click.prompt("Password", hide_input=True))
    request = LoginRequest(remote=target, email=email, source=source)
    return loops.run(lambda: login(request, password, sys.stdout))


@cli.command()
@account_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def whoami(remote: str, config_path: Path | None, state: Path | None, as_json: bool) -> int:
    """Show who the token for a remote belongs to, where it came from and when it expires.

    Never prints a token. Exit codes: 0 the remote accepted the token; 2 usage error; 3 no
    credentials, or the remote rejected them.
    """
    from dlsync import loops
    from dlsync.account import whoami as show

    target = account_remote(remote, config_path, state)
    return loops.run(lambda: show(target, sys.stdout, as_json=as_json))


def _set_priority(flag: str | None, *,
                  default: priority.Priority = priority.DEFAULT) -> priority.Applied:
    """Apply ``--priority`` (else ``default``) before any thread starts, and log the outcome:
    a warning when the system refused it."""
    applied = priority.apply(priority.Priority(flag) if flag else default)
    log = logs.get_logger(__name__)
    if applied.refused:
        log.warning("priority.unchanged", asked=applied.asked.value, niceness=applied.niceness,
                    reason=applied.note)
    else:
        log.debug("priority", asked=applied.asked.value, niceness=applied.niceness,
                  note=applied.note)
    return applied


def entry() -> None:
    """Entry point of the ``dlsync`` console script and of ``python -m dlsync``: ``main`` in a
    process of its own, whose client commands may set its garbage collector
    (``dlsync.collector``)."""
    collector.own_process()
    main()


def main(argv: list[str] | None = None) -> None:
    """Run the command line with ``argv`` (default: the process's arguments) and exit."""
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
