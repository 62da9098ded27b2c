"""Configuration: a TOML file plus the environment, validated into frozen dataclasses.

Every error is a ``ConfigError`` naming the key (dotted, such as ``pairs.cameras.workers``) and
the file (or "command line"). Unknown keys are errors with a "did you mean" suggestion, values of
the wrong type are errors, and relative paths are resolved against the config file's directory
after ``~`` and ``$VARS`` are expanded. ``config/dlsync.toml`` documents every key.

Tokens are never read from the config file: a remote names a ``token_file``, and
``dlsync.remote.credentials`` reads it (or ``$DLSYNC_TOKEN``, or the systemd credential).
"""

from __future__ import annotations

import difflib
import enum
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dlsync import constants
from dlsync.errors import ConfigError
from dlsync.local.layout import AnnotationLayout, LayoutKind
from dlsync.model import ConflictPolicy, Direction

COMMAND_LINE = "command line"


class LogFormat(enum.StrEnum):
    """How log lines are written."""

    AUTO = "auto"        # console on a TTY, JSON lines otherwise
    JSON = "json"
    CONSOLE = "console"


class LogLevel(enum.StrEnum):
    """The least severe log level written."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class RemoteConfig:
    """A Dataloop API endpoint and how hard dlsync may use it; ``url`` "local" is the gate."""

    name: str
    url: str
    token_file: Path | None = None
    rate: float = constants.DEFAULT_RATE
    burst: int = constants.DEFAULT_BURST
    concurrency: int = constants.DEFAULT_CONCURRENCY

    @property
    def is_local(self) -> bool:
        """Whether this is the embedded gate rather than a real remote."""
        return self.url == constants.LOCAL_REMOTE


LOCAL = RemoteConfig(name=constants.LOCAL_REMOTE, url=constants.LOCAL_REMOTE)


@dataclass(frozen=True, slots=True)
class PairConfig:
    """One sync pair: a local root, the dataset folder it mirrors into, and every mirror flag."""

    name: str
    source: Path
    project: str
    dataset: str
    remote: RemoteConfig = LOCAL
    remote_dir: str = "/"
    annotations: AnnotationLayout = field(default_factory=AnnotationLayout.sidecar)
    create: bool = False
    delete: bool = False
    max_delete: int = constants.DEFAULT_MAX_DELETE
    max_delete_annotations: int = constants.DEFAULT_MAX_DELETE_ANNOTATIONS
    explicit: frozenset[str] = frozenset()
    """Limit keys set on the command line or in the pair's own table (never via [defaults]):
    only those lift the half-of-tracked rules."""
    allow_empty_root: bool = False
    delete_excluded: bool = False
    backup_dir: str | None = None
    workers: int = constants.DEFAULT_WORKERS
    ignore: tuple[str, ...] = ()
    follow_symlinks: bool = False
    settle: float = constants.SETTLE_S
    delete_grace: float = constants.DELETE_GRACE_S
    reconcile_interval: float = constants.RECONCILE_S
    direction: Direction = Direction.PUSH
    conflict: ConflictPolicy = ConflictPolicy.KEEP_BOTH


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """Settings of the background service."""

    metrics: bool = False
    metrics_address: str = constants.METRICS_ADDRESS
    shutdown_timeout: float = constants.SHUTDOWN_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    """Log verbosity and format."""

    level: LogLevel = LogLevel.INFO
    format: LogFormat = LogFormat.AUTO


@dataclass(frozen=True, slots=True)
class Config:
    """A whole configuration file; ``source`` is the file it came from."""

    pairs: Mapping[str, PairConfig] = field(default_factory=dict)
    remotes: Mapping[str, RemoteConfig] = field(default_factory=dict)
    service: ServiceConfig = ServiceConfig()
    logging: LoggingConfig = LoggingConfig()
    state: Path | None = None
    source: Path | None = None

    def pair(self, name: str) -> PairConfig:
        """The pair called ``name``, or a ConfigError listing the ones there are."""
        if name in self.pairs:
            return self.pairs[name]
        raise ConfigError(f"no sync pair {name!r}{_suggest(name, self.pairs)}; pairs defined: "
                          f"{', '.join(sorted(self.pairs)) or 'none'}", key=f"pairs.{name}",
                          source=str(self.source) if self.source else None)


# Where a value came from ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Where:
    """The file (or "command line"), the dotted key, and the directory relative paths start at."""

    source: str
    key: str
    base: Path

    def child(self, key: str) -> _Where:
        return replace(self, key=f"{self.key}.{key}" if self.key else key)

    def error(self, message: str) -> ConfigError:
        return ConfigError(message, key=self.key or None, source=self.source)


def _suggest(word: str, choices: Mapping[str, object] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _type_name(value: object) -> str:
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array",
             dict: "table"}
    return names.get(type(value), type(value).__name__)


# Value converters ----------------------------------------------------------------------------

Convert = Callable[[object, _Where], Any]


def _expect(value: object, kinds: tuple[type, ...], name: str, where: _Where) -> None:
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        raise where.error(f"expected {name}, got {_type_name(value)}")


def _boolean(value: object, where: _Where) -> bool:
    _expect(value, (bool,), "boolean", where)
    return bool(value)


def _string(value: object, where: _Where) -> str:
    _expect(value, (str,), "string", where)
    if not str(value).strip():
        raise where.error("expected a non-empty string")
    return str(value)


def _integer(minimum: int) -> Convert:
    def convert(value: object, where: _Where) -> int:
        _expect(value, (int,), "integer", where)
        assert isinstance(value, int)
        if value < minimum:
            raise where.error(f"expected an integer of at least {minimum}, got {value}")
        return value
    return convert


def _number(minimum: float, *, inclusive: bool = True) -> Convert:
    def convert(value: object, where: _Where) -> float:
        _expect(value, (int, float), "number", where)
        try:
            number = float(value)  # type: ignore[arg-type]
        except OverflowError:
            raise where.error("number is too large") from None
        if not math.isfinite(number) or number < minimum or (not inclusive and number == minimum):
            bound = "at least" if inclusive else "more than"
            raise where.error(f"expected a finite number {bound} {minimum}, got {value}")
        return number
    return convert


def _choice(kind: type[enum.StrEnum]) -> Convert:
    def convert(value: object, where: _Where) -> enum.StrEnum:
        text = _string(value, where)
        try:
            return kind(text)
        except ValueError:
            allowed = tuple(member.value for member in kind)
            raise where.error(f"expected one of {', '.join(allowed)}, got {text!r}"
                              f"{_suggest(text, allowed)}") from None
    return convert


def _path(value: object, where: _Where) -> Path:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    text = _string(value, where)
    expanded = os.path.expanduser(os.path.expandvars(text))
    return Path(os.path.normpath(where.base / expanded))


def _strings(value: object, where: _Where) -> tuple[str, ...]:
    _expect(value, (list, tuple), "array of strings", where)
    assert isinstance(value, list | tuple)
    return tuple(_string(item, where.child(str(i))) for i, item in enumerate(value))


def _url(value: object, where: _Where) -> str:
    text = _string(value, where)
    if not re.match(r"^https?://[^/\s]+", text):
        raise where.error(f"expected an http:// or https:// URL, got {text!r}")
    return text.rstrip("/")


def _remote_dir(value: object, where: _Where) -> str:
    text = _string(value, where)
    parts = [part for part in text.split("/") if part]
    if not text.startswith("/") or any(part in (".", "..") for part in parts):
        raise where.error(f"expected an absolute remote folder such as \"/\" or \"/cams\", "
                          f"got {text!r}")
    return "/" + "/".join(parts)


def _annotations(value: object, where: _Where) -> AnnotationLayout:
    text = value if isinstance(value, str) else None
    if text == LayoutKind.SIDECAR.value:
        return AnnotationLayout.sidecar()
    if text == LayoutKind.NONE.value:
        return AnnotationLayout.none()
    return AnnotationLayout.in_directory(_path(value, where))


def _address(value: object, where: _Where) -> str:
    text = _string(value, where)
    host, _, port = text.rpartition(":")
    if not host or not port.isascii() or not port.isdigit() or int(port) > 65535:
        raise where.error(f"expected HOST:PORT, got {text!r}")
    return text


# Sections ------------------------------------------------------------------------------------

PAIR_KEYS: dict[str, Convert] = {
    "source": _path,
    "remote": _string,
    "project": _string,
    "dataset": _string,
    "remote_dir": _remote_dir,
    "annotations": _annotations,
    "create": _boolean,
    "delete": _boolean,
    "max_delete": _integer(0),
    "max_delete_annotations": _integer(0),
    "allow_empty_root": _boolean,
    "delete_excluded": _boolean,
    "backup_dir": _remote_dir,
    "workers": _integer(1),
    "ignore": _strings,
    "follow_symlinks": _boolean,
    "settle": _number(0.0),
    "delete_grace": _number(0.0),
    "reconcile_interval": _number(0.0, inclusive=False),
    "direction": _choice(Direction),
    "conflict": _choice(ConflictPolicy),
}
REQUIRED_PAIR_KEYS = ("source", "project", "dataset")
REMOTE_KEYS: dict[str, Convert] = {
    "url": _url,
    "token_file": _path,
    "rate": _number(0.0, inclusive=False),
    "burst": _integer(1),
    "concurrency": _integer(1),
}
SERVICE_KEYS: dict[str, Convert] = {
    "metrics": _boolean,
    "metrics_address": _address,
    "shutdown_timeout": _number(0.0),
}
LOGGING_KEYS: dict[str, Convert] = {"level": _choice(LogLevel), "format": _choice(LogFormat)}
STATE_KEYS: dict[str, Convert] = {"path": _path}
TOP_KEYS = ("defaults", "remotes", "pairs", "service", "logging", "state")

_SECRET_HINT = ("tokens are not read from config files: set token_file in the remote, "
                f"${constants.TOKEN_ENV}, or the systemd credential {constants.TOKEN_CREDENTIAL}")


def _table(value: object, where: _Where) -> Mapping[str, object]:
    _expect(value, (dict,), "table", where)
    assert isinstance(value, dict)
    return value


def _fields(raw: Mapping[str, object], spec: Mapping[str, Convert],
            where: _Where) -> dict[str, Any]:
    """Each key of ``raw`` converted by ``spec``; unknown keys are errors with a suggestion."""
    typed: dict[str, Any] = {}
    for key, value in raw.items():
        here = where.child(key)
        if key not in spec:
            hint = f"; {_SECRET_HINT}" if "token" in key.lower() else _suggest(key, spec)
            raise here.error(f"unknown key{hint}")
        if value is not None:
            typed[key] = spec[key](value, here)
    return typed


def _section(data: Mapping[str, object], name: str, spec: Mapping[str, Convert],
             where: _Where) -> dict[str, Any]:
    if name not in data:
        return {}
    return _fields(_table(data[name], where.child(name)), spec, where.child(name))


def _remotes(data: Mapping[str, object], where: _Where) -> dict[str, RemoteConfig]:
    here = where.child("remotes")
    remotes: dict[str, RemoteConfig] = {}
    for name, raw in _table(data.get("remotes", {}), here).items():
        typed = _fields(_table(raw, here.child(name)), REMOTE_KEYS, here.child(name))
        if "url" not in typed:
            raise here.child(name).child("url").error("missing required key")
        remotes[name] = RemoteConfig(name=name, **typed)
    return remotes


def _resolve_remote(name: str, remotes: Mapping[str, RemoteConfig], where: _Where) -> RemoteConfig:
    if name in remotes:
        return remotes[name]
    if name == constants.LOCAL_REMOTE:
        return LOCAL
    if re.match(r"^https?://", name):
        return RemoteConfig(name=name, url=_url(name, where))
    raise where.error(f"unknown remote {name!r}{_suggest(name, remotes)}; use a name from "
                      "[remotes], an https:// URL, or \"local\"")


LIMIT_KEYS = ("max_delete", "max_delete_annotations")
"""Keys whose explicit setting lifts a half-of-tracked rule (docs/operations.md)."""


def _build_pair(name: str, typed: Mapping[str, Any], remotes: Mapping[str, RemoteConfig],
                where: _Where, *, explicit: frozenset[str] | None = None) -> PairConfig:
    """A PairConfig from already converted values; checks required keys and the remote.

    A limit counts as explicit when ``typed`` holds it, unless the caller says which are.
    """
    for key in REQUIRED_PAIR_KEYS:
        if key not in typed:
            raise where.child(key).error("missing required key")
    values = dict(typed)
    if isinstance(values.get("remote"), str):
        values["remote"] = _resolve_remote(values["remote"], remotes, where.child("remote"))
    if explicit is None:
        explicit = frozenset(key for key in LIMIT_KEYS if key in typed)
    values.pop("explicit", None)
    return PairConfig(name=name, explicit=explicit, **values)


def _pairs(data: Mapping[str, object], remotes: Mapping[str, RemoteConfig],
           where: _Where) -> dict[str, PairConfig]:
    defaults = _section(data, "defaults", PAIR_KEYS, where)
    here = where.child("pairs")
    pairs: dict[str, PairConfig] = {}
    for name, raw in _table(data.get("pairs", {}), here).items():
        typed = _fields(_table(raw, here.child(name)), PAIR_KEYS, here.child(name))
        # a limit from [defaults] applies but is not explicit: only the pair's own table (or a
        # flag) lifts a half-of-tracked rule, so copying an example config never does
        own = frozenset(key for key in LIMIT_KEYS if key in typed)
        pairs[name] = _build_pair(name, {**defaults, **typed}, remotes, here.child(name),
                                  explicit=own)
    return pairs


def parse_config(data: Mapping[str, object], source: Path) -> Config:
    """Validate already parsed TOML ``data`` that came from the file ``source``."""
    where = _Where(source=str(source), key="", base=source.parent.absolute())
    _check_top(data, where)
    remotes = _remotes(data, where)
    state = _section(data, "state", STATE_KEYS, where)
    return Config(
        pairs=_pairs(data, remotes, where),
        remotes=remotes,
        service=ServiceConfig(**_section(data, "service", SERVICE_KEYS, where)),
        logging=LoggingConfig(**_section(data, "logging", LOGGING_KEYS, where)),
        state=state.get("path"),
        source=source,
    )


def _check_top(data: Mapping[str, object], where: _Where) -> None:
    """Only known tables at the top; a pair key there gets told where it belongs."""
    for key in data:
        if key in TOP_KEYS:
            continue
        if key in PAIR_KEYS:
            raise where.child(key).error("unknown key at the top level; put it in [defaults] "
                                         "or in a [pairs.NAME] table")
        raise where.child(key).error(f"unknown key{_suggest(key, TOP_KEYS)}")


def parse_text(text: str, source: Path) -> Config:
    """Parse and validate TOML ``text`` that came from the file ``source``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=str(source)) from None
    return parse_config(data, source)


def load_config(path: Path) -> Config:
    """Read and validate the config file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the config file: {exc}", source=str(path)) from None
    return parse_text(text, path.absolute())


def default_config_path(environ: Mapping[str, str] | None = None) -> Path | None:
    """``$DLSYNC_CONFIG``, else ``$XDG_CONFIG_HOME/dlsync/dlsync.toml`` (or ``~/.config``) when
    it exists, else ``/etc/dlsync/dlsync.toml`` when it exists, else ``None``."""
    env = os.environ if environ is None else environ
    if env.get(constants.CONFIG_ENV):
        return Path(env[constants.CONFIG_ENV])
    xdg = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME", "~"), ".config")
    user = Path(xdg).expanduser() / "dlsync" / constants.CONFIG_FILE
    for candidate in (user, Path(constants.SYSTEM_CONFIG)):
        if candidate.is_file():
            return candidate
    return None


# Command-line flags --------------------------------------------------------------------------


def _cli_where(key: str = "") -> _Where:
    return _Where(source=COMMAND_LINE, key=key, base=Path.cwd())


def merge_overrides(pair: PairConfig, *, remotes: Mapping[str, RemoteConfig] | None = None,
                    **overrides: object) -> PairConfig:
    """``pair`` with the given flags applied, validated like the file; ``None`` means unset.

    ``remote`` may name one of ``remotes``, be a URL, or be "local".
    """
    typed = _fields(overrides, PAIR_KEYS, _cli_where())
    current = {key: getattr(pair, key) for key in PAIR_KEYS}
    given = frozenset(key for key in LIMIT_KEYS if key in typed)
    return _build_pair(pair.name, {**current, **typed}, {**(remotes or {})}, _cli_where(),
                       explicit=pair.explicit | given)


def pair_from_flags(*, name: str | None = None,
                    remotes: Mapping[str, RemoteConfig] | None = None,
                    **flags: object) -> PairConfig:
    """A PairConfig from command-line flags alone; the name defaults to project/dataset/dir."""
    typed = _fields(flags, PAIR_KEYS, _cli_where())
    if name is None and "project" in typed and "dataset" in typed:
        name = f"{typed['project']}/{typed['dataset']}{typed.get('remote_dir', '/').rstrip('/')}"
    return _build_pair(name or "", typed, {**(remotes or {})}, _cli_where())
