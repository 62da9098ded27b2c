"""What a running service exposes to metrics and status: counters, queue depth, pacer rates."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from dlsync.pull.tally import PullTally
from dlsync.push.tally import Tally


@dataclass(slots=True)
class ServiceCounters:
    """What the service lets metrics read (``dlsync.metrics.ServiceReadings``) and the status line
    says: totals fed by every cycle, gauges read on demand."""

    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    sent: int = 0
    synced: int = 0
    failed: int = 0
    conflicts_by_pair: dict[str, int] = field(default_factory=dict)
    paused_pairs: dict[str, str] = field(default_factory=dict)   # pair name -> why
    depth_gauges: list[Callable[[], int]] = field(default_factory=list)
    age_gauges: list[Callable[[], float]] = field(default_factory=list)
    rate_gauges: dict[str, Callable[[], float]] = field(default_factory=dict)
    concurrency_gauges: dict[str, Callable[[], int]] = field(default_factory=dict)

    def add(self, tally: Tally) -> None:
        """Fold one finished cycle's tally into the totals."""
        self.outcomes.update(tally.outcomes)
        self.sent += tally.bytes_sent
        self.synced += sum(n for (_, outcome), n in tally.outcomes.items() if outcome == "done")
        self.failed += tally.failure_count

    def add_pull(self, tally: PullTally) -> None:
        """Fold one finished annotation poll into the totals (outcomes as ``("pull", ...)``)."""
        self.outcomes.update({("pull", outcome): n for outcome, n in tally.outcomes.items()})
        self.failed += tally.failures

    def conflicts(self) -> int:
        """Files in conflict over every pair, as last counted after each pair's reconcile."""
        return sum(self.conflicts_by_pair.values())

    def queue_depth(self) -> int:
        """Paths waiting over every pair."""
        return sum(gauge() for gauge in self.depth_gauges)

    def oldest_pending_age(self) -> float:
        """Age of the oldest pending change over every pair."""
        return max((gauge() for gauge in self.age_gauges), default=0.0)

    def actions(self) -> Mapping[tuple[str, str], int]:
        """Actions by ``(kind, outcome)``."""
        return dict(self.outcomes)

    def bytes_sent(self) -> int:
        """Bytes uploaded since start."""
        return self.sent

    def pacer_rates(self) -> Mapping[str, float]:
        """Current paced rate per remote."""
        return {name: gauge() for name, gauge in self.rate_gauges.items()}

    def pacer_concurrency(self) -> Mapping[str, int]:
        """Requests the adaptive limit allows in flight now, per remote."""
        return {name: gauge() for name, gauge in self.concurrency_gauges.items()}

    def paused(self) -> int:
        """Pairs the service holds paused (a root looks unmounted)."""
        return len(self.paused_pairs)

    def status_line(self) -> str:
        """The sd_notify ``STATUS=`` text."""
        line = (f"pending {self.queue_depth()}, synced {self.synced}, failed {self.failed}, "
                f"conflicts {self.conflicts()}")
        if self.paused_pairs:
            line += f", paused {', '.join(sorted(self.paused_pairs))}"
        return line
