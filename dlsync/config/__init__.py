"""Configuration: a TOML file plus the environment, validated into frozen dataclasses.

Every error is a ``ConfigError`` naming the key (dotted, such as ``pairs.cameras.workers``) and
the file (or "command line"). Unknown keys are errors with a "did you mean" suggestion, values of
the wrong type are errors, and relative paths are resolved against the config file's directory
after ``~`` and ``$VARS`` are expanded. ``config/dlsync.toml`` documents every key.

Tokens are never read from the config file: a remote names a ``token_file``, and
``dlsync.remote.credentials`` reads it (or ``$DLSYNC_TOKEN``, or the systemd credential).

Modules, dependencies pointing down:

- ``file``: where the file is found; reading, parsing and validating it into a ``Config``
- ``flags``: command-line flags as pair keys, alone or over a configured pair
- ``schema``: the keys each table accepts; converted values into a checked ``PairConfig``
- ``settings``: the frozen dataclasses the rest of dlsync reads
- ``convert``: one converter per kind of value; errors that name the key
"""

from dlsync.config.file import default_config_path, load_config, parse_config, parse_text
from dlsync.config.flags import COMMAND_LINE, merge_overrides, pair_from_flags
from dlsync.config.schema import LOGGING_KEYS, PAIR_KEYS, REMOTE_KEYS, SERVICE_KEYS, TOP_KEYS
from dlsync.config.settings import (
    LOCAL,
    Config,
    LabelPolicy,
    LogFormat,
    LoggingConfig,
    LogLevel,
    PairConfig,
    RemoteConfig,
    ServiceConfig,
)

__all__ = [
    "COMMAND_LINE",
    "LOCAL",
    "LOGGING_KEYS",
    "PAIR_KEYS",
    "REMOTE_KEYS",
    "SERVICE_KEYS",
    "TOP_KEYS",
    "Config",
    "LabelPolicy",
    "LogFormat",
    "LogLevel",
    "LoggingConfig",
    "PairConfig",
    "RemoteConfig",
    "ServiceConfig",
    "default_config_path",
    "load_config",
    "merge_overrides",
    "pair_from_flags",
    "parse_config",
    "parse_text",
]
