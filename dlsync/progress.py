"""The progress bar of a one-shot run: files, bytes, rate and ETA, on a TTY only.

rich is imported only when the bar is shown: a run under cron, systemd or a pipe does not pay
for loading it.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

from dlsync.push.job import Job
from dlsync.push.tally import Tally
from dlsync.units import format_size

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class ProgressDisplay:
    """A rich progress bar fed from a tally; silent when the stream is not a terminal."""

    def __init__(self, tally: Tally, *, stream: TextIO | None = None,
                 enabled: bool | None = None) -> None:
        out = stream or sys.stderr
        self.tally = tally
        self.enabled = out.isatty() if enabled is None else enabled
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[sent]}"), TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(), TimeRemainingColumn(),
                console=Console(file=out), transient=True)

    def __enter__(self) -> ProgressDisplay:
        if self._progress is not None:
            self._progress.start()
            self._task = self._progress.add_task("syncing", total=None, sent="", rate="")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()

    def on_job(self, _job: Job) -> None:
        """Refresh the bar after a job ended."""
        if self._progress is None or self._task is None:
            return
        seconds = max(self.tally.elapsed(), 1e-6)
        self._progress.update(
            self._task, total=sum(self.tally.planned.values()), completed=self.tally.finished,
            sent=format_size(self.tally.bytes_sent),
            rate=f"{format_size(int(self.tally.bytes_sent / seconds))}/s")
