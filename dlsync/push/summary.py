"""The end-of-run summary: counts per action and outcome, bytes, duration, failures."""

from __future__ import annotations

import json
from typing import Any, TextIO

from dlsync.model import printable
from dlsync.push.tally import Tally
from dlsync.units import format_size

_VERBS = {
    "upload": "uploaded", "reupload": "restored", "overwrite": "overwritten", "move": "moved",
    "annotate": "annotated", "update-metadata": "metadata updated", "adopt": "adopted",
    "delete": "deleted", "conflict": "in conflict", "error": "unreadable",
    "delete-annotations": "with annotations deleted",
}


def summary_json(tally: Tally, extra: dict[str, Any]) -> dict[str, Any]:
    """The summary as JSON-able data."""
    return {**extra, **tally.as_json()}


def render_summary(tally: Tally, out: TextIO, *, title: str, extra: dict[str, Any],
                   as_json: bool = False) -> None:
    """Write the summary as text lines or one JSON document."""
    if as_json:
        out.write(json.dumps(summary_json(tally, extra), ensure_ascii=False) + "\n")
        return
    for line in summary_lines(tally, title=title):
        out.write(line + "\n")


def summary_lines(tally: Tally, *, title: str) -> list[str]:
    """Human-readable summary lines."""
    seconds = max(tally.elapsed(), 1e-9)
    done = {kind: n for (kind, outcome), n in tally.outcomes.items() if outcome == "done"}
    parts = [f"{n} {_VERBS.get(kind, kind)}" for kind, n in sorted(done.items())]
    head = ", ".join(parts) if parts else "nothing to do"
    rate = format_size(int(tally.bytes_sent / seconds))
    lines = [f"{title}: {head} in {seconds:.1f} s "
             f"({format_size(tally.bytes_sent)} sent, {rate}/s)"]
    lines += _transfer_lines(tally)
    excluded = sum(n for (_, outcome), n in tally.outcomes.items() if outcome == "excluded")
    if excluded:
        lines.append(f"  {excluded} left out by policy (symbolic links not followed, special "
                     "files; --dry-run lists them with ~)")
    if tally.labels_added:
        lines.append(f"  labels: {tally.labels_added} added to the dataset's ontology")
    if tally.task_items_added:
        lines.append(f"  task: {tally.task_items_added} items added")
    skipped = sum(n for (_, outcome), n in tally.outcomes.items() if outcome == "skipped")
    if skipped:
        lines.append(f"  {skipped} skipped (vanished or still changing; retried next run)")
    if tally.failure_count or tally.conflicts:
        lines.append(f"  {tally.failure_count} failed, {tally.conflicts} in conflict "
                     "(retried next run):")
        lines += [f"  ! {printable(f.path)}: {printable(f.reason)}" for f in tally.failures]
        hidden = tally.failure_count + tally.conflicts - len(tally.failures)
        if hidden > 0:
            lines.append(f"  ... and {hidden} more (see the log)")
    if tally.annotations_kept:
        lines.append(f"  {tally.annotations_kept} items kept their platform annotations: their "
                     "annotation file is gone and deletes are off (--delete removes them)")
    if tally.excluded_kept:
        lines.append(f"  {tally.excluded_kept} remote items of excluded paths kept "
                     "(--delete-excluded removes them)")
    if tally.backup_dir:
        lines.append(f"  deleted items were moved to {tally.backup_dir} (ids and annotations "
                     "kept; move them back to undo)")
    if tally.deletes_refused:
        lines.append(f"  deletes: {tally.deletes_refused}")
    return lines


def _transfer_lines(tally: Tally) -> list[str]:
    """The concurrency a run that sent files settled at, and its annotation counts."""
    lines = []
    c = tally.concurrency
    if c is not None and tally.bytes_sent:
        lines.append(f"  concurrency: settled at {c.limit} requests in flight "
                     f"(highest {c.highest}, cap {c.cap})")
    if tally.annotations_posted or tally.annotations_deleted:
        lines.append(f"  annotations: {tally.annotations_posted} posted, "
                     f"{tally.annotations_deleted} deleted")
    return lines
