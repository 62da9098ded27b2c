"""The options commands share, and the sync pair or remote they name.

``cli.py`` declares the commands; this module holds what several of them use: the pair options
of ``mirror`` and ``pull`` (and how they resolve to a ``PairConfig`` and a state database), the
``--exclude`` flags, ``--bwlimit``, and the options ``login`` and ``whoami`` share.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from dlsync import constants, logs
from dlsync.priority import Priority

if TYPE_CHECKING:
    from dlsync.config import Config, PairConfig


DIR_PATH = click.Path(file_okay=False, path_type=Path)
FILE_PATH = click.Path(dir_okay=False, path_type=Path)


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


def priority_option(default: str = "normal") -> Callable[[_F], _F]:
    """``--priority`` of the commands that sync (docs/operations.md, "CPU priority"), its
    default described as ``default``."""
    return click.option(
        "--priority", type=click.Choice([p.value for p in Priority]), envvar="DLSYNC_PRIORITY",
        show_envvar=True, help="CPU priority: low (niceness 10) lets other work on the machine "
        "have the cores first; normal keeps the niceness dlsync was started with.  "
        f"[default: {default}]")


PRIORITY_OPTION = priority_option()

BWLIMIT_OPTION = click.option(
    "--bwlimit", type=_Rate(), default=None, help="Bandwidth limit for this remote, shared by "
    "every upload and download: bytes per second with a suffix B, K, M, G (binary: 10M is "
    "10 MiB/s; a bare number is KiB/s, as in rclone), or off.  [default: the remote's "
    "bwlimit, else off]")

_PAIR_OPTIONS = (
    click.argument("source", required=False, type=DIR_PATH),
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
    click.option("--state", type=FILE_PATH, help="State database.  [default: "
                 "$XDG_STATE_HOME/dlsync/state.db]"),
    click.option("--workers", type=click.IntRange(min=1), help="Items handled concurrently "
                 "(requests in flight adapt below the remote's concurrency).  [default: 64]"),
    click.option("--config", "config_path", type=FILE_PATH, help="Config file with named sync "
                 "pairs."),
    click.option("--pair", "pair_name", help="Name of the sync pair in the config."),
    click.option("--exclude", "excludes", multiple=True, metavar="PATTERN",
                 help="Leave out paths matching PATTERN (gitignore syntax), added to the "
                 "pair's ignore patterns; repeatable. Excluded paths are never deleted "
                 "remotely (see --delete-excluded)."),
    click.option("--exclude-from", type=FILE_PATH, metavar="FILE",
                 help="Read exclude patterns from FILE, one per line (# comments)."),
    click.option("--gate-data", type=DIR_PATH, hidden=True,
                 help="Data folder of the embedded gate."),
)
_PAIR_KEYS = ("source", "project", "dataset", "remote", "remote_dir", "annotations",
              "annotation_format", "classes", "workers")


def pair_options(command: _F) -> _F:
    """Add the options every one-shot command on a sync pair shares."""
    for option in reversed(_PAIR_OPTIONS):
        command = option(command)
    return command


def config_logging(config: Config | None) -> None:
    """Apply the config's ``[logging]`` table to what the command line left unset
    (``--log-level``, ``--log-json/--log-console``): the command line wins."""
    context = click.get_current_context(silent=True)
    if config is None or context is None:
        return
    root = context.find_root()
    level_given = root.get_parameter_source("log_level") not in (None, ParameterSource.DEFAULT)
    json_flag = root.params.get("log_json")
    if level_given and json_flag is not None:
        return
    from dlsync.config import LogFormat

    level = root.params.get("log_level", "info") if level_given else config.logging.level.value
    json = json_flag if json_flag is not None else {
        LogFormat.AUTO: None, LogFormat.JSON: True, LogFormat.CONSOLE: False}[
            config.logging.format]
    logs.configure(json=json, level=level)


def resolve_pair(options: dict[str, Any], **flags: Any) -> tuple[PairConfig, Path]:
    """The sync pair and state database the shared options (plus ``flags``) name."""
    from dlsync.push.command import build_pair, load_optional_config, state_path_for

    config = load_optional_config(options["config_path"])
    config_logging(config)
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


_ACCOUNT_OPTIONS = (
    click.option("--remote", default=constants.PRODUCTION_REMOTE, show_default=True,
                 help="API base URL, or a remote named in the config."),
    click.option("--config", "config_path", type=FILE_PATH, help="Config file: its [remotes] and "
                 "its [state] path."),
    click.option("--state", type=FILE_PATH, help="State database; the login store is beside it.  "
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
    config_logging(config)
    found = remote_named(remote, config.remotes if config else {})
    return replace(found, logins=login_store_path(state_path_for(state, config)))
