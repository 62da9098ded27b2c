"""The ``dlsync`` command line: parses flags, runs a command, turns its outcome into an exit code.

Exit codes (docs/operations.md): 0 in sync, 1 some items failed, 2 usage or config error,
3 authentication or permission error, 4 a safety limit stopped deletes, 5 the sync pair is locked.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from dlsync import __version__, constants, logs
from dlsync.errors import EXIT_USAGE, DlsyncError, exit_code_for
from dlsync.gate.commands import gate

if TYPE_CHECKING:
    from dlsync.config import PairConfig


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


_DIR = click.Path(file_okay=False, path_type=Path)
_FILE = click.Path(dir_okay=False, path_type=Path)


_F = TypeVar("_F", bound=Callable[..., Any])


if TYPE_CHECKING:
    _ParamType = click.ParamType[float]
else:  # click before 8.3 has no generic ParamType
    _ParamType = click.ParamType


class _Rate(_ParamType):
    """An rclone ``--bwlimit`` value in bytes per second: ``10M`` is 10 MiB/s, a bare number
    KiB/s; ``off`` (or 0) is 0.0, which lifts a configured limit."""

    name = "RATE"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        from dlsync.units import parse_rate

        if isinstance(value, float):
            return value
        try:
            return parse_rate(str(value)) or 0.0
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


_BWLIMIT = click.option(
    "--bwlimit", type=_Rate(), default=None, help="Bandwidth limit for this remote, shared by "
    "every upload and download: bytes per second with a suffix B, K, M, G (binary: 10M is "
    "10 MiB/s; a bare number is KiB/s, as in rclone), or off.  [default: the remote's "
    "bwlimit, else off]")

_PAIR_OPTIONS = (
    click.argument("source", required=False, type=_DIR),
    click.option("--project", help="Dataloop project name."),
    click.option("--dataset", help="Dataset name in the project."),
    click.option("--remote", help='API base URL, a remote named in the config, or "local" for '
                 "the embedded gate.  [default: https://gate.dataloop.ai/api/v1]"),
    click.option("--remote-dir", help="Dataset folder the source maps to.  [default: /]"),
    click.option("--annotations", help='Where annotation JSON files are: a folder, "sidecar" '
                 '(a/b.jpg.json beside a/b.jpg) or "none".  [default: sidecar]'),
    click.option("--annotation-format", type=click.Choice(["dataloop", "yolo", "coco", "voc"]),
                 help="Format of the annotation files: Dataloop JSON, YOLO (--annotations "
                 "DIR of .txt), COCO (--annotations FILE.json) or Pascal VOC (--annotations DIR "
                 "of .xml).  [default: dataloop]"),
    click.option("--classes", help="YOLO class names: a data.yaml or a text file.  [default: "
                 "DIR/../data.yaml, DIR/data.yaml, DIR/classes.txt]"),
    click.option("--json", "as_json", is_flag=True, help="Print the result as JSON."),
    click.option("--state", type=_FILE, help="State database.  [default: "
                 "$XDG_STATE_HOME/dlsync/state.db]"),
    click.option("--workers", type=click.IntRange(min=1), help="Items handled concurrently.  "
                 "[default: 16]"),
    click.option("--config", "config_path", type=_FILE, help="Config file with named sync "
                 "pairs."),
    click.option("--pair", "pair_name", help="Name of the sync pair in the config."),
    click.option("--exclude", "excludes", multiple=True, metavar="PATTERN",
                 help="Leave out paths matching PATTERN (gitignore syntax), added to the "
                 "pair's ignore patterns; repeatable. Excluded paths are never deleted "
                 "remotely (see --delete-excluded)."),
    click.option("--exclude-from", type=_FILE, metavar="FILE",
                 help="Read exclude patterns from FILE, one per line (# comments)."),
    click.option("--gate-data", type=_DIR, hidden=True, help="Data folder of the embedded gate."),
)
_PAIR_KEYS = ("source", "project", "dataset", "remote", "remote_dir", "annotations",
              "annotation_format", "classes", "workers")


def pair_options(command: _F) -> _F:
    """Add the options every one-shot command on a sync pair shares."""
    for option in reversed(_PAIR_OPTIONS):
        command = option(command)
    return command


def resolve_pair(options: dict[str, Any], **flags: Any) -> tuple[PairConfig, Path]:
    """The sync pair and state database the shared options (plus ``flags``) name."""
    from dlsync.push.command import build_pair, load_optional_config, state_path_for

    config = load_optional_config(options["config_path"])
    given = {key: options[key] for key in _PAIR_KEYS}
    given["source"] = str(given["source"]) if given["source"] else None
    if not given["remote"] and not options["pair_name"]:
        given["remote"] = constants.PRODUCTION_REMOTE
    rate, concurrency = flags.pop("rate", None), flags.pop("concurrency", None)
    pair = build_pair({**given, **flags}, config=config, pair_name=options["pair_name"],
                      rate=rate, concurrency=concurrency)
    excluded = exclude_patterns(options["excludes"], options["exclude_from"])
    if excluded:
        pair = replace(pair, ignore=(*pair.ignore, *excluded))
    bwlimit = options.get("bwlimit")
    if bwlimit is not None:  # 0.0: --bwlimit off
        pair = replace(pair, remote=replace(pair.remote, bwlimit=bwlimit or None))
    state = state_path_for(options["state"], config)
    return with_logins(pair, state), state


def exclude_patterns(patterns: tuple[str, ...], source: Path | None) -> tuple[str, ...]:
    """``--exclude`` patterns, then the lines of ``--exclude-from`` (the command-line side of
    the ``ignore`` key)."""
    from dlsync.errors import UsageError

    lines: list[str] = []
    if source is not None:
        try:
            lines = source.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--exclude-from {source}: cannot read it ({exc}); nothing was "
                             "synced") from None
    return (*patterns, *lines)


def with_logins(pair: PairConfig, state: Path) -> PairConfig:
    """``pair`` with its remote's login store beside the state database ``state``."""
    from dataclasses import replace

    from dlsync.state.location import login_store_path

    return replace(pair, remote=replace(pair.remote, logins=login_store_path(state)))


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
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
@click.option("--rate", type=click.FloatRange(min=0.1), help="Maximum requests per second.")
@click.option("--concurrency", type=click.IntRange(min=1), help="Maximum requests in flight.")
@_BWLIMIT
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
    from dlsync.push.command import MirrorRequest, mirror_sync

    safety = {key: options.pop(key) for key in ("max_delete_annotations", "delete_excluded",
                                                "allow_empty_root", "backup_dir", "labels",
                                                "task")}
    assignees = options.pop("task_assignees")
    safety["task_assignees"] = list(assignees) if assignees else None
    backfill = options.pop("task_backfill")
    pair, state = resolve_pair(options, create=create, delete=delete, max_delete=max_delete,
                               conflict=conflict, rate=rate, concurrency=concurrency, **safety)
    request = MirrorRequest(pair=pair, state=state, dry_run=dry_run,
                            as_json=options["as_json"],
                            gate_data=options["gate_data"], progress=progress,
                            backfill=backfill)
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
@_BWLIMIT
def pull(items: bool, full: bool, conflict: str | None, task: str | None,
         pull_status: str | None, dry_run: bool, **options: Any) -> int:
    """Bring the platform's annotations of a dataset into the folder SOURCE, once.

    Exit codes: 0 in sync; 1 some items failed or are in conflict (both versions kept);
    2 usage or config error; 3 authentication error; 5 another run holds the lock.
    """
    from dlsync.pull.command import PullRequest, pull_sync
    from dlsync.pull.puller import PullOptions

    pair, state = resolve_pair(options, conflict=conflict, task=task, pull_status=pull_status)
    request = PullRequest(pair=pair, state=state,
                          options=PullOptions(items=items, full=full, dry_run=dry_run),
                          as_json=options["as_json"], gate_data=options["gate_data"])
    return pull_sync(request)


@cli.command("run")
@click.option("--config", "config_path", type=_FILE, help="Config file with the sync pairs to "
              "serve.  [default: $DLSYNC_CONFIG, ~/.config/dlsync/dlsync.toml, "
              "/etc/dlsync/dlsync.toml]")
@click.option("--state", type=_FILE, help="State database.  [default: the config's [state] "
              "path, else $XDG_STATE_HOME/dlsync/state.db]")
@click.option("--gate-data", type=_DIR, hidden=True, help="Data folder of the embedded gate.")
def run(config_path: Path | None, state: Path | None, gate_data: Path | None) -> int:
    """Serve every sync pair of the config until stopped (the background service).

    SIGTERM/SIGINT stop gracefully; SIGHUP reconciles every pair now. Exit codes: 0 stopped
    cleanly; 2 usage or config error; 3 authentication error; 5 a pair is locked by another run.
    """
    import dataclasses

    import anyio

    from dlsync.config import default_config_path, load_config
    from dlsync.push.command import state_path_for
    from dlsync.service.daemon import run_service

    path = config_path or default_config_path()
    if path is None:
        raise click.UsageError("no config found: pass --config FILE or set $DLSYNC_CONFIG")
    config = load_config(path)
    database = state_path_for(state, config)
    pairs = {name: with_logins(pair, database) for name, pair in config.pairs.items()}
    config = dataclasses.replace(config, pairs=pairs)
    return anyio.run(lambda: run_service(config, database, gate_data=gate_data))


@cli.command("ls")
@click.option("--project", required=True, help="Dataloop project name.")
@click.option("--dataset", required=True, help="Dataset name in the project.")
@click.option("--remote", default=constants.PRODUCTION_REMOTE, show_default=True,
              help='API base URL, or "local" for the embedded gate.')
@click.option("--remote-dir", default="/", show_default=True, help="Dataset folder to list.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per item.")
def ls(project: str, dataset: str, remote: str, remote_dir: str, as_json: bool) -> int:
    """List the items of a dataset folder: size, annotation count, whether dlsync synced it."""
    import anyio

    from dlsync.config import pair_from_flags
    from dlsync.ls import DatasetFolder, list_folder

    pair = pair_from_flags(source=".", project=project, dataset=dataset, remote=remote,
                           remote_dir=remote_dir)
    folder = DatasetFolder(pair.remote, project, dataset, pair.remote_dir)
    anyio.run(lambda: list_folder(folder, sys.stdout, as_json=as_json))
    return 0


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON document (docs/operations.md).")
@click.option("--config", "config_path", type=_FILE, help="Config file: show its pairs, and "
              "use its [state] path.")
@click.option("--state", type=_FILE, help="State database.  [default: "
              "$XDG_STATE_HOME/dlsync/state.db]")
def status(as_json: bool, config_path: Path | None, state: Path | None) -> int:
    """Show each sync pair's file counts, last errors and runs, and whether the service runs.

    Reads the state database without writing it; safe while the service or a mirror runs.
    """
    from dlsync.push.command import load_optional_config, state_path_for
    from dlsync.status import show

    config = load_optional_config(config_path)
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
@click.option("--gate-data", type=_DIR, hidden=True, help="Data folder of the embedded gate.")
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


_ACCOUNT_OPTIONS = (
    click.option("--remote", default=constants.PRODUCTION_REMOTE, show_default=True,
                 help="API base URL, or a remote named in the config."),
    click.option("--config", "config_path", type=_FILE, help="Config file: its [remotes] and "
                 "its [state] path."),
    click.option("--state", type=_FILE, help="State database; the login store is beside it.  "
                 "[default: $XDG_STATE_HOME/dlsync/state.db]"),
)


def account_options(command: _F) -> _F:
    """Add the options ``login`` and ``whoami`` share."""
    for option in reversed(_ACCOUNT_OPTIONS):
        command = option(command)
    return command


def account_remote(remote: str, config_path: Path | None, state: Path | None) -> Any:
    """The RemoteConfig ``--remote`` names, with its login store beside the state database."""
    from dataclasses import replace

    from dlsync.account import remote_named
    from dlsync.push.command import load_optional_config, state_path_for
    from dlsync.state.location import login_store_path

    config = load_optional_config(config_path)
    found = remote_named(remote, config.remotes if config else {})
    return replace(found, logins=login_store_path(state_path_for(state, config)))


@cli.command("login")
@account_options
@click.option("--email", help="The machine user's e-mail (asked for when not given).")
@click.option("--password-file", type=_FILE, help="Read the password from this file (kept as "
              "its path, so dlsync can log in again by itself).  [default: the systemd "
              "credential dlsync-password, else a hidden prompt]")
def login_command(remote: str, config_path: Path | None, state: Path | None, email: str | None,
                  password_file: Path | None) -> int:
    """Log in to a remote with e-mail and password (a machine user), as dtlpy's login_m2m does.

    The tokens are kept in dlsync's login store beside the state database (mode 0600) and
    used by mirror, pull and run. Exit codes: 0 logged in; 2 usage error; 3 login refused.
    """
    import os

    import anyio

    from dlsync.account import LoginRequest, login
    from dlsync.remote.logins import password_source

    target = account_remote(remote, config_path, state)
    source = password_source(password_file, os.environ)
    email = email or click.prompt("E-mail")
    password = (source.read(os.environ) if source else
                click.prompt("Password", hide_input=True))
    request = LoginRequest(remote=target, email=email, source=source)
    return anyio.run(lambda: login(request, password, sys.stdout))


@cli.command()
@account_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def whoami(remote: str, config_path: Path | None, state: Path | None, as_json: bool) -> int:
    """Show who the token for a remote belongs to, where it came from and when it expires.

    Never prints a token. Exit codes: 0 the remote accepted the token; 2 usage error; 3 no
    credentials, or the remote rejected them.
    """
    import anyio

    from dlsync.account import whoami as show

    target = account_remote(remote, config_path, state)
    return anyio.run(lambda: show(target, sys.stdout, as_json=as_json))


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
