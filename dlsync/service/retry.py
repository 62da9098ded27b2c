"""Failed files are tried again with exponential backoff; when, state records (``next_attempt``).

After each cycle the service reads the state records of the paths that failed: a file that has
failed ``n`` times in a row waits ``ITEM_RETRY_BASE_S * 2**(n-1)`` seconds (at most
``ITEM_RETRY_CAP_S``) before it is planned again. The due time is written into the record, so
``dlsync status`` shows it; a success resets ``attempts`` and clears it. A restart's full
reconcile tries every failed file at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from dlsync import constants
from dlsync.clock import Clock
from dlsync.model import FileStatus, StateRecord
from dlsync.state.ops import MarkFile


def backoff(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failure in a row."""
    return min(constants.ITEM_RETRY_CAP_S,
               constants.ITEM_RETRY_BASE_S * 2.0 ** max(0, attempts - 1))


@dataclass(slots=True)
class RetrySchedule:
    """Failed paths of one pair and the monotonic time each is due again."""

    clock: Clock
    due: dict[str, float] = field(default_factory=dict)

    def schedule(self, pair: int, records: Iterable[StateRecord]) -> list[MarkFile]:
        """Schedule every failed record; return the state writes recording when it is due."""
        now, wall = self.clock.monotonic(), self.clock.wall()
        marks: list[MarkFile] = []
        for record in records:
            if record.status is not FileStatus.FAILED or record.attempts < 1:
                continue
            wait = backoff(record.attempts)
            self.due[record.path] = now + wait
            marks.append(MarkFile(pair, record.path, record.status, record.attempts,
                                  record.last_error, next_attempt=wall + wait))
        return marks

    def take_due(self) -> list[str]:
        """The paths whose wait has ended (no longer scheduled)."""
        now = self.clock.monotonic()
        ready = [path for path, at in self.due.items() if at <= now]
        for path in ready:
            del self.due[path]
        return ready
