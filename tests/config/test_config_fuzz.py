"""Whatever a TOML file holds, loading it either succeeds or raises ConfigError, nothing else."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlsync.config import (
    LOGGING_KEYS,
    PAIR_KEYS,
    REMOTE_KEYS,
    SERVICE_KEYS,
    TOP_KEYS,
    Config,
    merge_overrides,
    pair_from_flags,
    parse_config,
    parse_text,
)
from dlsync.errors import ConfigError

SOURCE = Path("/etc/dlsync/dlsync.toml")
KNOWN = sorted({*TOP_KEYS, *PAIR_KEYS, *REMOTE_KEYS, *SERVICE_KEYS, *LOGGING_KEYS, "path",
                "prod", "cams", "local"})
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
KEYS = st.one_of(st.sampled_from(KNOWN), TEXT)
SCALARS = st.one_of(
    st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.floats(), TEXT,
    st.sampled_from(["push", "sidecar", "none", "local", "prod", "https://x.io/api/v1",
                     "127.0.0.1:1", "/", "~/x", "$HOME/y", "keep-both", "info", "json"]),
    st.datetimes(), st.dates(), st.times(),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=6)), max_leaves=30)
DOCUMENTS = st.dictionaries(KEYS, VALUES, max_size=6)


def _check(call: Any, *args: Any, **kwargs: Any) -> None:
    try:
        call(*args, **kwargs)
    except ConfigError:
        pass


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS)
def test_any_document_is_valid_or_a_config_error(document: dict[str, Any]) -> None:
    """Arbitrary TOML-shaped data never raises anything but ConfigError."""
    _check(parse_config, document, SOURCE)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(PAIR_KEYS)), VALUES, max_size=8))
def test_any_pair_table_is_valid_or_a_config_error(pair: dict[str, Any]) -> None:
    """Arbitrary values under known pair keys, in a file and as flags, raise only ConfigError."""
    _check(parse_config, {"pairs": {"p": pair}, "defaults": pair}, SOURCE)
    _check(pair_from_flags, **pair)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_valid_or_a_config_error(text: str) -> None:
    """Arbitrary text (mostly not TOML) raises only ConfigError."""
    _check(parse_text, text, SOURCE)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(PAIR_KEYS)), VALUES, max_size=5))
def test_any_overrides_are_valid_or_a_config_error(overrides: dict[str, Any]) -> None:
    """merge_overrides validates arbitrary flag values and raises only ConfigError."""
    base = parse_config({"pairs": {"p": {"source": "/d", "project": "P", "dataset": "D"}}},
                        SOURCE)
    assert isinstance(base, Config)
    _check(merge_overrides, base.pair("p"), **overrides)


def test_datetimes_are_type_errors() -> None:
    """A TOML date where a string belongs is a clear type error, not a crash."""
    try:
        parse_config({"pairs": {"p": {"source": dt.date(2024, 1, 1)}}}, SOURCE)
    except ConfigError as exc:
        assert exc.key == "pairs.p.source" and "got date" in str(exc)
    else:
        raise AssertionError("a date was accepted as a path")
