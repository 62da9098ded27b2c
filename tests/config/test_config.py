"""Loading the TOML config: the documented example, errors that name key and file, overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlsync import constants
from dlsync.config import (
    COMMAND_LINE,
    LogFormat,
    default_config_path,
    load_config,
    merge_overrides,
    pair_from_flags,
)
from dlsync.errors import ConfigError
from dlsync.local.layout import LayoutKind
from dlsync.model import ConflictPolicy, Direction
from dlsync.priority import Priority

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "dlsync.toml"

MINIMAL = """
[pairs.cams]
source = "data"
project = "Vision"
dataset = "cameras"
"""


def _load(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dlsync.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str) -> ConfigError:
    path = _load(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.source == str(path)
    assert str(path) in str(caught.value)
    return caught.value


def test_documented_example_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """config/dlsync.toml loads, with inheritance, named remotes and every layout kind."""
    monkeypatch.setenv("HOME", "/home/someone")
    config = load_config(EXAMPLE)
    assert set(config.pairs) == {"cameras", "lidar", "demo"}
    cameras, lidar, demo = config.pair("cameras"), config.pair("lidar"), config.pair("demo")
    assert cameras.remote.name == "prod" and cameras.remote.token_file == Path("/etc/dlsync/token")
    assert (cameras.direction, cameras.conflict) == (Direction.PUSH, ConflictPolicy.KEEP_BOTH)
    assert cameras.ignore == ("*.bak",) and lidar.ignore == ("*.bak", "*.tmp")
    assert lidar.source == Path("/home/someone/data/lidar")
    assert lidar.annotations.kind is LayoutKind.DIRECTORY
    assert lidar.annotations.directory == EXAMPLE.parent / "labels"
    assert (lidar.remote.rate, lidar.remote.burst) == (10.0, constants.DEFAULT_BURST)
    assert demo.remote.is_local and demo.source == EXAMPLE.parent / "demo-data"
    assert config.logging.format is LogFormat.AUTO and config.state is None
    assert config.service.priority is Priority.NORMAL


def test_relative_paths_resolve_against_the_file(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Relative paths start at the config file's directory; $VARS and ~ are expanded first."""
    monkeypatch.setenv("DATA_ROOT", "/srv/data")
    monkeypatch.chdir("/")
    path = _load(tmp_path, MINIMAL + 'annotations = "$DATA_ROOT/labels"\n'
                 '[state]\npath = "../state/./s.db"\n')
    config = load_config(path)
    assert config.pair("cams").source == tmp_path / "data"
    assert config.pair("cams").annotations.directory == Path("/srv/data/labels")
    assert config.state == tmp_path.parent / "state" / "s.db"


@pytest.mark.parametrize(("text", "key", "suggestion"), [
    ("workers = 3\n" + MINIMAL, "workers", "put it in [defaults]"),
    ("pair = 3\n" + MINIMAL, "pair", "did you mean 'pairs'"),
    ("[pairs.cams]\nsource='d'\nproject='p'\ndataset='d'\nworker = 3\n", "pairs.cams.worker",
     "'workers'"),
    ("[remotes.prod]\nurl='https://x.io/api/v1'\nrat = 5\n", "remotes.prod.rat", "'rate'"),
    ("[defaults]\nmax_delet = 5\n", "defaults.max_delet", "'max_delete'"),
    ("[logging]\nlevl = 'info'\n", "logging.levl", "'level'"),
    ("[remotes.prod]\nurl='https://x.io'\ntoken = 'eyJsecretvalue'\n", "remotes.prod.token",
     "token_file"),
])
def test_unknown_keys_name_key_file_and_suggestion(tmp_path: Path, text: str, key: str,
                                                   suggestion: str) -> None:
    """An unknown key anywhere is an error naming it, the file and the likely intended key."""
    error = _error(tmp_path, text)
    assert error.key == key and suggestion in str(error) and "unknown key" in str(error)
    assert "eyJsecretvalue" not in str(error)


@pytest.mark.parametrize(("line", "key", "expected"), [
    ('workers = "16"', "pairs.cams.workers", "expected integer, got string"),
    ("workers = true", "pairs.cams.workers", "expected integer, got boolean"),
    ("workers = 0", "pairs.cams.workers", "at least 1"),
    ("settle = -1.0", "pairs.cams.settle", "at least 0"),
    ("full_listing_interval = -1", "pairs.cams.full_listing_interval", "at least 0"),
    ('full_listing_interval = "1d"', "pairs.cams.full_listing_interval",
     "expected number, got string"),
    ("settle = nan", "pairs.cams.settle", "finite"),
    ('delete = "yes"', "pairs.cams.delete", "expected boolean, got string"),
    ('ignore = "*.bak"', "pairs.cams.ignore", "expected array of strings, got string"),
    ("ignore = [1]", "pairs.cams.ignore.0", "expected string, got integer"),
    ('remote_dir = "cams"', "pairs.cams.remote_dir", "absolute remote folder"),
    ("annotations = 3", "pairs.cams.annotations", "expected string, got integer"),
])
def test_wrong_types_and_ranges(tmp_path: Path, line: str, key: str, expected: str) -> None:
    """A value of the wrong type or range names the key and says what was expected."""
    error = _error(tmp_path, MINIMAL + line + "\n")
    assert error.key == key and expected in str(error)


@pytest.mark.parametrize(("line", "key", "allowed"), [
    ('direction = "pull"', "pairs.cams.direction", "push, pull-annotations, both"),
    ('conflict = "keep_both"', "pairs.cams.conflict", "did you mean 'keep-both'"),
    ('remote = "prd"', "pairs.cams.remote", "\"local\""),
])
def test_bad_enum_values(tmp_path: Path, line: str, key: str, allowed: str) -> None:
    """A value outside its set of choices lists the choices."""
    error = _error(tmp_path, MINIMAL + line + "\n")
    assert error.key == key and allowed in str(error)


@pytest.mark.parametrize("missing", ["source", "project", "dataset"])
def test_missing_required_pair_keys(tmp_path: Path, missing: str) -> None:
    """A pair without source, project or dataset is an error naming the missing key."""
    text = "\n".join(line for line in MINIMAL.splitlines() if not line.startswith(missing))
    error = _error(tmp_path, text)
    assert error.key == f"pairs.cams.{missing}" and "missing required key" in str(error)


def test_other_section_errors(tmp_path: Path) -> None:
    """Bad service, logging, remote and TOML syntax errors all name key and file."""
    assert _error(tmp_path, "[service]\nmetrics_address = 'localhost'\n").key == \
        "service.metrics_address"
    assert _error(tmp_path, "[logging]\nformat = 'xml'\n").key == "logging.format"
    error = _error(tmp_path, "[service]\npriority = 'idle'\n")
    assert error.key == "service.priority" and "expected one of low, normal" in str(error)
    assert _error(tmp_path, "[remotes.prod]\nrate = 1.0\n").key == "remotes.prod.url"
    assert _error(tmp_path, "[remotes.prod]\nurl = 'ftp://x'\n").key == "remotes.prod.url"
    assert _error(tmp_path, "pairs = 3\n").key == "pairs"
    assert "not valid TOML" in str(_error(tmp_path, "[pairs\n"))


def test_missing_file_and_missing_pair(tmp_path: Path) -> None:
    """A missing file and an unknown pair name are ConfigErrors saying what exists."""
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path / "nope.toml")
    config = load_config(_load(tmp_path, MINIMAL))
    with pytest.raises(ConfigError, match="did you mean 'cams'") as caught:
        config.pair("cmas")
    assert caught.value.key == "pairs.cmas"


def test_overrides_validate_like_the_file(tmp_path: Path) -> None:
    """Flags override file values, None leaves them, and bad flags name the key."""
    pair = load_config(_load(tmp_path, MINIMAL + "workers = 4\n")).pair("cams")
    merged = merge_overrides(pair, workers=8, delete=None, remote="https://dl.example/api/v1")
    assert (merged.workers, merged.delete, merged.source) == (8, False, pair.source)
    assert merged.remote.url == "https://dl.example/api/v1"
    assert merge_overrides(pair) == pair
    with pytest.raises(ConfigError) as caught:
        merge_overrides(pair, workers="many")
    assert (caught.value.key, caught.value.source) == ("workers", COMMAND_LINE)
    with pytest.raises(ConfigError, match="did you mean 'dataset'"):
        merge_overrides(pair, datset="x")


def test_pair_from_flags_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Flags alone make a pair with defaults from constants and a name from the target."""
    monkeypatch.chdir(tmp_path)
    pair = pair_from_flags(source="data", project="Vision", dataset="cams", remote_dir="/a/")
    assert pair.name == "Vision/cams/a" and pair.source == tmp_path / "data"
    assert pair.remote.is_local and pair.workers == constants.DEFAULT_WORKERS
    with pytest.raises(ConfigError) as caught:
        pair_from_flags(source="data", project="Vision")
    assert caught.value.key == "dataset"


def test_default_config_path(tmp_path: Path) -> None:
    """$DLSYNC_CONFIG wins; else the XDG file when it exists; else nothing user-level."""
    assert default_config_path({"DLSYNC_CONFIG": "/x/y.toml"}) == Path("/x/y.toml")
    user = tmp_path / "dlsync" / "dlsync.toml"
    user.parent.mkdir()
    user.write_text("")
    assert default_config_path({"XDG_CONFIG_HOME": str(tmp_path)}) == user
    found = default_config_path({"XDG_CONFIG_HOME": str(tmp_path / "none"), "HOME": "/none"})
    assert found in (None, Path(constants.SYSTEM_CONFIG))
