"""The config file: where it is found, read, parsed as TOML, and validated into a ``Config``."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

from dlsync import constants
from dlsync.config.convert import Where, suggest, table
from dlsync.config.schema import (
    LIMIT_KEYS,
    LOGGING_KEYS,
    PAIR_KEYS,
    REMOTE_KEYS,
    SERVICE_KEYS,
    STATE_KEYS,
    TOP_KEYS,
    build_pair,
    fields,
    section,
)
from dlsync.config.settings import Config, LoggingConfig, PairConfig, RemoteConfig, ServiceConfig
from dlsync.errors import ConfigError


def _remotes(data: Mapping[str, object], where: Where) -> dict[str, RemoteConfig]:
    here = where.child("remotes")
    remotes: dict[str, RemoteConfig] = {}
    for name, raw in table(data.get("remotes", {}), here).items():
        typed = fields(table(raw, here.child(name)), REMOTE_KEYS, here.child(name))
        if "url" not in typed:
            raise here.child(name).child("url").error("missing required key")
        remotes[name] = RemoteConfig(name=name, **typed)
    return remotes


def _pairs(data: Mapping[str, object], remotes: Mapping[str, RemoteConfig],
           where: Where) -> dict[str, PairConfig]:
    defaults = section(data, "defaults", PAIR_KEYS, where)
    here = where.child("pairs")
    pairs: dict[str, PairConfig] = {}
    for name, raw in table(data.get("pairs", {}), here).items():
        typed = fields(table(raw, here.child(name)), PAIR_KEYS, here.child(name))
        # a limit from [defaults] applies but is not explicit: only the pair's own table (or a
        # flag) lifts a half-of-tracked rule, so copying an example config never does
        own = frozenset(key for key in LIMIT_KEYS if key in typed)
        pairs[name] = build_pair(name, {**defaults, **typed}, remotes, here.child(name),
                                 explicit=own)
    return pairs


def _check_top(data: Mapping[str, object], where: Where) -> None:
    """Only known tables at the top; a pair key there gets told where it belongs."""
    for key in data:
        if key in TOP_KEYS:
            continue
        if key in PAIR_KEYS:
            raise where.child(key).error("unknown key at the top level; put it in [defaults] "
                                         "or in a [pairs.NAME] table")
        raise where.child(key).error(f"unknown key{suggest(key, TOP_KEYS)}")


def parse_config(data: Mapping[str, object], source: Path) -> Config:
    """Validate already parsed TOML ``data`` that came from the file ``source``."""
    where = Where(source=str(source), key="", base=source.parent.absolute())
    _check_top(data, where)
    remotes = _remotes(data, where)
    state = section(data, "state", STATE_KEYS, where)
    return Config(
        pairs=_pairs(data, remotes, where),
        remotes=remotes,
        service=ServiceConfig(**section(data, "service", SERVICE_KEYS, where)),
        logging=LoggingConfig(**section(data, "logging", LOGGING_KEYS, where)),
        state=state.get("path"),
        source=source,
    )


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
