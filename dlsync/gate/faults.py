"""Deliberate misbehaviour: rate limiting, 5xx answers, latency and dropped connections.

``FaultSettings`` is the value callers set; ``FaultInjector`` turns it into one decision per
request. Random faults come from a seeded ``random.Random``, so a run with a seed misbehaves the
same way every time as long as its requests arrive in the same order. The fault schedule
(``fail_first``) does not depend on order at all: the first N attempts of each distinct request
fail, wherever they fall among other requests, so "every upload gets a 503 on its first two
attempts, then succeeds" holds under any concurrency.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from dlsync.gate.refusal import bad_request

FAIL_STATUSES = (500, 502, 503)
SCHEDULED_STATUS = 503           # what the fault schedule answers (every client retries it)
INJECTED_ERROR = "injected server error"
# Routes whose handler consults the schedule itself, once it has read enough of the body to tell
# requests apart: an upload has one URL for every file, so it counts attempts per uploaded path.
UPLOAD_ROUTE = "POST /datasets/{id}/items"
KEYED_BY_HANDLER = frozenset({UPLOAD_ROUTE})  # routes/upload.py
_SCHEDULE_KEYS_LIMIT = 100_000   # distinct requests remembered; later ones are not failed
Drop = Literal["before", "after"] | None


@dataclass(frozen=True)
class FaultSettings:
    """What the gate does wrong, and to which routes (empty ``routes``: all of them)."""

    rate_limit: float | None = None   # requests/s; over it -> 429 with Retry-After
    fail_rate: float = 0.0            # share of requests answered 500/502/503 (nothing applied)
    latency_ms: float = 0.0           # added before handling each request
    drop_rate: float = 0.0            # share of requests whose connection is dropped without reply
    drop_after_share: float = 0.5     # of dropped ones, the share dropped AFTER the request applied
    seed: int | None = None
    routes: tuple[str, ...] = ()      # route keys such as "POST /items/{id}/annotations"
    fail_first: int = 0               # the first N attempts of each distinct request -> 503
    truncate_uploads: bool = False    # uploads are recorded one byte short (a truncated store)
    forbid: tuple[str, ...] = ()      # route keys answered 403, as to a token without access

    def __post_init__(self) -> None:
        for name in ("fail_rate", "drop_rate", "drop_after_share"):
            share = getattr(self, name)
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"fault setting {name} must be between 0 and 1, got {share}")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ValueError(f"fault setting rate_limit must be positive, got {self.rate_limit}")
        if self.latency_ms < 0:
            raise ValueError(f"fault setting latency_ms must be >= 0, got {self.latency_ms}")
        if isinstance(self.fail_first, bool) or not isinstance(self.fail_first, int) \
                or self.fail_first < 0:
            raise ValueError(f"fault setting fail_first must be a whole number >= 0, "
                             f"got {self.fail_first!r}")

    def to_json(self) -> dict[str, Any]:
        """The settings as the admin endpoint shows them."""
        out = asdict(self)
        out["routes"] = list(self.routes)
        out["forbid"] = list(self.forbid)
        return out

    def updated(self, changes: Mapping[str, Any]) -> FaultSettings:
        """A copy with ``changes`` (field name → JSON value) applied; Refusal (400) if invalid."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise bad_request(f"unknown fault setting(s) {unknown}; known: {sorted(known)}")
        values = dict(changes)
        for listed in ("routes", "forbid"):
            if listed in values:
                routes = values[listed]
                if not isinstance(routes, list) or not all(isinstance(r, str) for r in routes):
                    raise bad_request(f"fault setting {listed!r} must be a list of route keys")
                values[listed] = tuple(routes)
        for name, value in values.items():
            if name not in ("routes", "forbid") and value is not None and \
                    not isinstance(value, int | float):
                raise bad_request(f"fault setting {name!r} must be a number, got {value!r}")
        try:
            return replace(self, **values)
        except ValueError as exc:
            raise bad_request(str(exc)) from exc


class TokenBucket:
    """Allows ``rate`` requests per second with bursts of ``max(1, rate)``."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.burst = max(1.0, rate)
        self._tokens = self.burst
        self._at = time.monotonic()

    def take(self) -> float:
        """0 if a request may go now (and counts it), else the seconds until one may."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate


@dataclass(frozen=True)
class Verdict:
    """What to do with one request: answer ``status`` now, drop it, or handle it normally."""

    status: int | None = None
    retry_after: int | None = None
    drop: Drop = None


class FaultInjector:
    """Holds the current settings and decides each request's fate."""

    def __init__(self, settings: FaultSettings) -> None:
        self.settings = settings
        self._rng = random.Random(settings.seed)
        self._bucket = TokenBucket(settings.rate_limit) if settings.rate_limit else None
        self._attempts: dict[str, int] = {}

    def set(self, settings: FaultSettings) -> None:
        """Switch to ``settings`` (a new seed restarts the random sequence; the fault schedule
        counts every request's attempts afresh)."""
        if settings.seed != self.settings.seed:
            self._rng = random.Random(settings.seed)
        if settings.rate_limit != self.settings.rate_limit:
            self._bucket = TokenBucket(settings.rate_limit) if settings.rate_limit else None
        self._attempts = {}
        self.settings = settings

    def applies_to(self, route_key: str) -> bool:
        """True when faults target ``route_key``."""
        return not self.settings.routes or route_key in self.settings.routes

    def scheduled(self, attempt_key: str) -> Verdict:
        """A 503 while ``attempt_key`` has had fewer than ``fail_first`` attempts; counts this one.

        ``attempt_key`` names the request, not the attempt: method and path, plus whatever the
        route tells its requests apart by (an upload's item path).
        """
        seen = self._attempts.get(attempt_key, 0)
        if seen >= self.settings.fail_first:
            return Verdict()
        if not seen and len(self._attempts) >= _SCHEDULE_KEYS_LIMIT:
            return Verdict()
        self._attempts[attempt_key] = seen + 1
        return Verdict(status=SCHEDULED_STATUS)

    async def decide(self, attempt_key: str | None) -> Verdict:
        """Wait the configured latency, then pick this request's verdict.

        ``attempt_key`` (see ``scheduled``) is None when the handler consults the schedule itself.
        """
        settings = self.settings
        if settings.latency_ms > 0:
            await asyncio.sleep(settings.latency_ms / 1000.0)
        if self._bucket is not None:
            wait = self._bucket.take()
            if wait > 0:
                return Verdict(status=429, retry_after=max(1, math.ceil(wait)))
        if attempt_key is not None and settings.fail_first:
            verdict = self.scheduled(attempt_key)
            if verdict.status is not None:
                return verdict
        if settings.fail_rate and self._rng.random() < settings.fail_rate:
            return Verdict(status=self._rng.choice(FAIL_STATUSES))
        if settings.drop_rate and self._rng.random() < settings.drop_rate:
            after = self._rng.random() < settings.drop_after_share
            return Verdict(drop="after" if after else "before")
        return Verdict()


class GateStats:
    """Request counts by status and by route key, and dropped connections."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start counting from zero."""
        self.total = 0
        self.by_status: dict[str, int] = {}
        self.by_route: dict[str, dict[str, int]] = {}
        self.dropped_before = 0
        self.dropped_after = 0
        self.destroyed: dict[str, int] = {}

    def destroyed_some(self, kind: str, count: int) -> None:
        """Count ``count`` entities destroyed: ``items`` or ``annotations`` deleted, item
        content ``overwritten``. Tests hold this against a plan's destructive lines."""
        if count:
            self.destroyed[kind] = self.destroyed.get(kind, 0) + count

    def answered(self, route_key: str, status: int) -> None:
        """Count one answered request."""
        self.total += 1
        code = str(status)
        self.by_status[code] = self.by_status.get(code, 0) + 1
        route = self.by_route.setdefault(route_key, {})
        route[code] = route.get(code, 0) + 1

    def dropped(self, drop: Drop) -> None:
        """Count one request whose connection was dropped."""
        self.total += 1
        if drop == "after":
            self.dropped_after += 1
        else:
            self.dropped_before += 1

    def to_json(self) -> dict[str, Any]:
        """The ``GET /__gate__/stats`` body."""
        return {
            "total": self.total, "by_status": dict(self.by_status),
            "by_route": {k: dict(v) for k, v in self.by_route.items()},
            "dropped_before": self.dropped_before, "dropped_after": self.dropped_after,
            "destroyed": dict(self.destroyed),
        }
