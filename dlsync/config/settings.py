"""The validated configuration as frozen dataclasses: remotes, pairs, service, logging."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dlsync import constants
from dlsync.config.convert import suggest
from dlsync.errors import ConfigError
from dlsync.local.layout import AnnotationLayout, LabelFormat
from dlsync.model import ConflictPolicy, Direction
from dlsync.priority import DEFAULT as DEFAULT_PRIORITY
from dlsync.priority import Priority


class LogFormat(enum.StrEnum):
    """How log lines are written."""

    AUTO = "auto"        # console on a TTY, JSON lines otherwise
    JSON = "json"
    CONSOLE = "console"


class LabelPolicy(enum.StrEnum):
    """Whether a mirror adds the labels its annotations use to the dataset's ontology."""

    ENSURE = "ensure"    # labels missing from the ontology are added before the post
    OFF = "off"          # the ontology is never written


class LogLevel(enum.StrEnum):
    """The least severe log level written."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class RemoteConfig:
    """A Dataloop API endpoint and how hard dlsync may use it; ``url`` "local" is the gate.

    ``bwlimit`` is bytes per second (``None``: no limit); ``blind_retry_max_size`` bytes.
    ``max_attempts`` and ``max_total_wait`` (seconds) bound every call's and operation's retries.
    """

    name: str
    url: str
    token_file: Path | None = None
    rate: float = constants.DEFAULT_RATE
    burst: int = constants.DEFAULT_BURST
    concurrency: int = constants.DEFAULT_CONCURRENCY
    logins: Path | None = None
    """dlsync's login store (beside the state database in use); not a config key: the command
    line sets it. ``None``: beside the default state database."""
    bwlimit: float | None = None
    stall_timeout: float = constants.STALL_TIMEOUT_S
    blind_retry_max_size: int = constants.BLIND_RETRY_MAX_BYTES
    max_attempts: int = constants.MAX_ATTEMPTS
    max_total_wait: float = constants.MAX_TOTAL_WAIT_S
    ca_file: Path | None = None
    verify_ssl: bool = True

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
    annotation_format: LabelFormat = LabelFormat.DATALOOP   # also in ``annotations.format``
    classes: Path | None = None                              # YOLO class names
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
    full_listing_interval: float = constants.FULL_LISTING_INTERVAL_S
    """Seconds after which a push lists the whole remote folder again rather than only what
    changed (0: every push lists it whole)."""
    direction: Direction = Direction.PUSH
    conflict: ConflictPolicy = ConflictPolicy.KEEP_BOTH
    labels: LabelPolicy = LabelPolicy.ENSURE
    task: str | None = None
    """The task uploaded and adopted items are added to (created when missing)."""
    task_assignees: tuple[str, ...] = ()
    """Assignees of a task dlsync creates; none: the token's own user."""
    pull_status: tuple[str, ...] = ()
    """Task statuses an item needs for a pull to write its annotations; none: no gate."""


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """Settings of the background service."""

    metrics: bool = False
    metrics_address: str = constants.METRICS_ADDRESS
    shutdown_timeout: float = constants.SHUTDOWN_TIMEOUT_S
    priority: Priority = DEFAULT_PRIORITY
    """The service's CPU priority (``dlsync.priority``); ``dlsync run --priority`` overrides."""


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
        raise ConfigError(f"no sync pair {name!r}{suggest(name, self.pairs)}; pairs defined: "
                          f"{', '.join(sorted(self.pairs)) or 'none'}", key=f"pairs.{name}",
                          source=str(self.source) if self.source else None)
