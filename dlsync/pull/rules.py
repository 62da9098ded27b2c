"""What a pull does with one item's annotations, and why: pure rules over hashes, no I/O.

The three hashes are annotation-set hashes as the push side computes them
(``local.annotations.AnnotationSet.set_hash``): ``base`` is what state says was last in sync,
``local`` is the local annotation file now (``None``: there is none), ``remote`` is the set the
platform holds now. An empty set and "no file" count as the same.

    row  situation                                      verdict
    ---  -----------------------------------------  ------------------------------------------
     1   local equals remote                        RECORD (nothing to write; state catches up)
     2   remote equals base (unchanged there)       NOTHING (a local edit is the push side's)
     3   local equals base (unchanged here)         WRITE the platform version
     4   both changed, conflict = remote            WRITE the platform version over the local
     5   both changed, conflict = local             KEEP_LOCAL (the next push sends the diff)
     6   both changed, conflict = keep-both         CONFLICT (platform version written beside)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from dlsync.model import ConflictPolicy


class PullVerdict(enum.StrEnum):
    """What to do with one item's annotation file."""

    NOTHING = "unchanged"
    RECORD = "recorded"          # the local file already holds the platform's set
    WRITE = "written"            # the platform's set goes into the local file
    KEEP_LOCAL = "kept-local"    # both changed; the local file wins (conflict = local)
    CONFLICT = "conflict"        # both changed; both kept, a person decides


@dataclass(frozen=True, slots=True)
class SetView:
    """One side's annotation set: its hash, and whether it is empty (no annotations, no metadata).

    ``hash`` is ``None`` when there is no annotation file at all.
    """

    hash: str | None
    empty: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict for one item and the sentence that explains it."""

    verdict: PullVerdict
    reason: str


def same(a: SetView, b: SetView) -> bool:
    """True when two sets are equal; a missing file equals an empty set."""
    if a.hash is not None and a.hash == b.hash:
        return True
    return (a.hash is None or a.empty) and (b.hash is None or b.empty)


def decide_pull(base: SetView, local: SetView, remote: SetView,
                policy: ConflictPolicy) -> Decision:
    """Walk the table in the module docstring for one item."""
    if same(local, remote):
        return Decision(PullVerdict.RECORD, "the local file already holds the platform's set")
    if same(remote, base):
        return Decision(PullVerdict.NOTHING, "unchanged on the platform since the last sync")
    if same(local, base):
        return Decision(PullVerdict.WRITE, "changed on the platform")
    if policy is ConflictPolicy.REMOTE:
        return Decision(PullVerdict.WRITE, "changed on both sides; the platform wins "
                        "(conflict = remote)")
    if policy is ConflictPolicy.LOCAL:
        return Decision(PullVerdict.KEEP_LOCAL, "changed on both sides; the local file wins "
                        "(conflict = local) and is pushed by the next mirror")
    return Decision(PullVerdict.CONFLICT, "changed here and on the platform since the last sync")
