"""How hard a syncing dlsync process presses on the machine it shares (docs/operations.md,
"CPU priority").

A mirror, a pull or the service can be background work on a machine whose owner has other work
(training, data loading, a labeling tool): ``low`` raises the process's niceness to
``LOW_NICENESS`` before its threads start, as Syncthing does for itself and ``nice -n 10``
would, so that on a busy machine the other work gets the cores first. On an idle machine the
niceness changes nothing: a niced process still gets every core nobody else wants. Linux
derives a process's disk priority from its niceness when none was set (best-effort level
``(niceness + 20) // 5``, 6 at niceness 10), so the disks follow. ``normal``, the default,
leaves the niceness the process was started with (the systemd units start it at 10).

``normal`` is the default, as for rsync, rclone and restic: a one-shot mirror is often what its
user is waiting for, and under systemd, where dlsync is background work, the units start it at
niceness 10 anyway. Against a gate on the same two cores, ``low`` made no difference a
benchmark could separate from the host's noise (ten rounds: low's time over normal's 0.76 to
1.14, median 0.99; docs/benchmarks.md, "Twentieth pass").

Only a process that the ``dlsync`` entry point started is changed (``collector.owns_process``):
a program or test that calls ``dlsync.cli.main`` keeps its own priority. Raising one's niceness
needs no privilege, so ``low`` only fails where a sandbox forbids the call (a systemd unit with
``SystemCallFilter=~@resources``; the units dlsync ships set ``Nice=`` themselves, and a
niceness already at or past the target is left as it is). A failure is reported, never fatal.
"""

from __future__ import annotations

import enum
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from dlsync import collector

LOW_NICENESS = 10
"""The niceness ``low`` raises a process to (``nice``'s own default increment)."""

TASKS = Path("/proc/self/task")
"""Linux's list of this process's threads: niceness belongs to each thread there."""


class Priority(enum.StrEnum):
    """The CPU priority of a syncing process."""

    LOW = "low"          # niceness raised to LOW_NICENESS: other work on the machine first
    NORMAL = "normal"    # the niceness the process was started with (the default)


DEFAULT = Priority.NORMAL


@dataclass(frozen=True, slots=True)
class Applied:
    """What ``apply`` did: the priority asked for, the niceness the process runs at (``None``
    when it cannot be read), and why it differs from what was asked, if it does; ``refused``
    when the system would not change it (worth a warning), not when dlsync chose not to."""

    asked: Priority
    niceness: int | None
    note: str | None = None
    refused: bool = False

    def as_json(self) -> dict[str, object]:
        """The summary's ``priority`` field."""
        out: dict[str, object] = {"asked": self.asked.value, "niceness": self.niceness}
        if self.note:
            out["note"] = self.note
        return out


SUPPORTED = hasattr(os, "setpriority")
"""Whether this system has niceness (every Unix; not Windows)."""


def _niceness() -> int | None:
    if not SUPPORTED:
        return None
    try:
        return os.getpriority(os.PRIO_PROCESS, 0)
    except OSError:
        return None


def _other_threads() -> list[int]:
    """This process's threads besides the calling one (Linux; elsewhere niceness is the
    whole process's and the list is empty)."""
    if not sys.platform.startswith("linux"):
        return []
    try:
        tids = [int(entry.name) for entry in TASKS.iterdir()]
    except OSError:
        return []
    me = threading.get_native_id()
    return [tid for tid in tids if tid != me]


def lower_to(target: int) -> Applied:
    """Raise this process's niceness to ``target`` (every thread of it), unless it is there
    already; never lower it."""
    if not SUPPORTED:
        return Applied(Priority.LOW, None, "this system has no niceness; priority left as it "
                       "was", refused=True)
    current = _niceness()
    if current is None:
        return Applied(Priority.LOW, None, "the niceness could not be read; left as it was",
                       refused=True)
    if current >= target:
        return Applied(Priority.LOW, current)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, target)
        for tid in _other_threads():
            try:
                os.setpriority(os.PRIO_PROCESS, tid, target)
            except ProcessLookupError:    # the thread ended meanwhile
                continue
    except OSError as exc:
        return Applied(Priority.LOW, current,
                       f"the niceness could not be raised ({exc.strerror or exc}); running at "
                       f"{current}", refused=True)
    return Applied(Priority.LOW, _niceness())


def apply(priority: Priority) -> Applied:
    """Set this process's priority for a sync; in a process dlsync's entry point did not start,
    or with ``normal``, only report the niceness it has."""
    if priority is Priority.NORMAL:
        return Applied(priority, _niceness())
    if not collector.owns_process():
        return Applied(priority, _niceness(), "not dlsync's own process (embedded); left as it "
                       "was")
    return lower_to(LOW_NICENESS)
