"""Command-line flags as pair keys: a pair from flags alone, or a configured pair overridden."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from dlsync.config.convert import Where
from dlsync.config.schema import LIMIT_KEYS, PAIR_KEYS, build_pair, fields
from dlsync.config.settings import PairConfig, RemoteConfig

COMMAND_LINE = "command line"
"""The ``source`` a ConfigError names when a flag was wrong."""


def _cli_where() -> Where:
    return Where(source=COMMAND_LINE, key="", base=Path.cwd())


def merge_overrides(pair: PairConfig, *, remotes: Mapping[str, RemoteConfig] | None = None,
                    **overrides: object) -> PairConfig:
    """``pair`` with the given flags applied, validated like the file; ``None`` means unset.

    ``remote`` may name one of ``remotes``, be a URL, or be "local".
    """
    typed = fields(overrides, PAIR_KEYS, _cli_where())
    current = {key: getattr(pair, key) for key in PAIR_KEYS}
    given = frozenset(key for key in LIMIT_KEYS if key in typed)
    return build_pair(pair.name, {**current, **typed}, {**(remotes or {})}, _cli_where(),
                      explicit=pair.explicit | given)


def pair_from_flags(*, name: str | None = None,
                    remotes: Mapping[str, RemoteConfig] | None = None,
                    **flags: object) -> PairConfig:
    """A PairConfig from command-line flags alone; the name defaults to project/dataset/dir."""
    typed = fields(flags, PAIR_KEYS, _cli_where())
    if name is None and "project" in typed and "dataset" in typed:
        name = f"{typed['project']}/{typed['dataset']}{typed.get('remote_dir', '/').rstrip('/')}"
    return build_pair(name or "", typed, {**(remotes or {})}, _cli_where())
