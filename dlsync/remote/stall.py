"""``StallWatch``: a request fails when no byte has moved either way for ``stall_timeout``.

It replaces aiohttp's read timeout for requests that stream a body (uploads): a read timeout
counts from the start of the request, so a multi-GB upload on a slow link, or the slow reply
that follows it, would be cut off although bytes kept moving. The watch is a cancel scope whose
deadline moves forward with every piece of the body written and with the reply's arrival;
time spent waiting for the ``bwlimit`` budget does not count (dlsync held the bytes back, the
link did not stall).

The deadline is moved at most once per ``slack`` (a twentieth of the timeout, at most 1 s), and
set that much further out: a stall is cut between ``timeout`` and ``timeout + slack`` after the
last byte moved, never sooner. Moving it for every piece of every request armed a fresh timer on
the event loop each time, five per small upload.

``writing`` tells the outcomes apart: a body that reports its progress (an upload's file part)
sets it while it is written, and a stall or a broken connection meanwhile cannot have been
applied by the remote (the request is plainly retryable); one after it, or with a body that does
not report, is ambiguous.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

import anyio

SLACK_SHARE = 0.05      # the slack: this share of the timeout,
SLACK_MAX_S = 1.0       # at most this many seconds


class StallWatch:
    """The stall deadline of one request attempt; use as ``with watch:`` around the request."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.slack = min(SLACK_MAX_S, timeout * SLACK_SHARE)
        self.writing = False
        """True while a reporting body is being written (not all of it has gone out)."""
        self._scope = anyio.CancelScope()
        self._armed = -math.inf      # when the deadline was last moved

    def __enter__(self) -> StallWatch:
        self.moved()
        self._scope.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        return bool(self._scope.__exit__(exc_type, exc, tb))

    @property
    def stalled(self) -> bool:
        """Whether the request was cut off because nothing moved for ``timeout`` seconds."""
        return self._scope.cancelled_caught

    def moved(self) -> None:
        """Bytes moved: the request may go on for at least another ``timeout`` seconds."""
        now = anyio.current_time()
        if now - self._armed >= self.slack:
            self._armed = now
            self._scope.deadline = now + self.timeout + self.slack

    def body_started(self) -> None:
        """A reporting body starts to be written."""
        self.writing = True
        self.moved()

    def body_sent(self) -> None:
        """The whole body was written; from now on only the reply is awaited."""
        self.writing = False
        self.moved()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Within the block (a wait dlsync imposes itself) the deadline does not run."""
        self._scope.deadline = math.inf
        try:
            yield
        finally:
            self._armed = -math.inf
            self.moved()
