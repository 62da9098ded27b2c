"""``RemoteSettings``: where the remote is and how hard dlsync may use it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dlsync import constants
from dlsync.remote.pacer import PacerSettings

API_SUFFIX = "/api/v1"


@dataclass(frozen=True, slots=True)
class RemoteSettings:
    """Connection and pacing settings of one remote; defaults from ``dlsync.constants``.

    ``url`` is the API base ending in ``/api/v1``; ``gate_url`` (for ``/token?default``) is the
    host root, derived from ``url`` when not given.

    Transfer and network settings (docs/remote.md, "HTTP"): ``stall_timeout`` seconds without a
    byte moving either way fail a request; ``bwlimit`` bytes per second (``None``: no limit)
    are shared by every upload and download; an upload larger than ``blind_retry_max_size``
    bytes is looked up before it is sent again after an ambiguous failure; ``proxy`` is the
    HTTP proxy URL (``None``: direct; ``connect`` takes it from the environment);
    ``ca_file`` and ``verify_ssl`` say how the remote's certificate is checked.
    """

    url: str = constants.PRODUCTION_REMOTE
    gate_url: str | None = None
    rate: float = constants.DEFAULT_RATE
    burst: int = constants.DEFAULT_BURST
    concurrency: int = constants.DEFAULT_CONCURRENCY
    max_connections: int = constants.MAX_CONNECTIONS
    connect_timeout: float = constants.CONNECT_TIMEOUT_S
    stall_timeout: float = constants.STALL_TIMEOUT_S
    max_attempts: int = constants.MAX_ATTEMPTS
    max_total_wait: float = constants.MAX_TOTAL_WAIT_S
    refresh_ahead: float = constants.TOKEN_REFRESH_AHEAD_S
    page_size: int = constants.PAGE_SIZE
    bwlimit: float | None = None
    blind_retry_max_size: int = constants.BLIND_RETRY_MAX_BYTES
    proxy: str | None = None
    ca_file: Path | None = None
    verify_ssl: bool = True

    @property
    def base_url(self) -> str:
        """``url`` without a trailing slash."""
        return self.url.rstrip("/")

    @property
    def root_url(self) -> str:
        """The host root that serves ``/token?default``."""
        if self.gate_url:
            return self.gate_url.rstrip("/")
        base = self.base_url
        return base[: -len(API_SUFFIX)] if base.endswith(API_SUFFIX) else base

    def pacer_settings(self) -> PacerSettings:
        """The pacer limits these settings ask for."""
        return PacerSettings(rate=self.rate, burst=self.burst, concurrency=self.concurrency,
                             max_attempts=self.max_attempts,
                             max_total_wait=self.max_total_wait)
