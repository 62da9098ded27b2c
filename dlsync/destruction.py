"""The one gate for destruction (DESIGN.md decision 7, rclone's ``SkipDestructive``).

Every destructive job of a push passes here: remote item deletes, net removals of dlsync's
annotations, and content overwrites. The gate stamps the jobs it admits with its ticket, and the
executor refuses a destructive job without it, so nothing destructive can reach the platform by
another road.

- **Overwrites** are admitted as they come (an overwrite is the sync of a changed file), counted
  and logged; one found only at upload time (the path was taken since the listing) is logged as
  not in the plan.
- **Ontology writes** (labels a mirror adds before posting annotations that use them) are
  admitted as they come, counted and logged with the labels they add; they only ever add.
- **Deletes** (item deletes and net annotation removals) are deferred: they run last, only after
  an error-free run, and only within the limits:

      kind          limit                      half rule (unless the limit is explicit)
      items         max_delete (100)           never more than half of the tracked files
      annotations   max_delete_annotations     past 100, never more than half of the
                    (1,000)                    annotations dlsync owns on the pair

  An annotation file that is gone (its whole set removed) counts one item and its annotations.
  Over a limit, nothing of that kind is deleted (exit 4); everything else still happens.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

from dlsync import constants, logs
from dlsync.config import PairConfig
from dlsync.model import Action, ActionKind

_log = logs.get_logger(__name__)


class Admittable(Protocol):
    """What the gate needs of a job to admit it (push's and pull's jobs are frozen
    dataclasses with a ``ticket`` field)."""

    @property
    def path(self) -> str: ...

    @property
    def ticket(self) -> object | None: ...


class GatedJob(Admittable, Protocol):
    """A job the gate can hold for the end of the cycle: a delete."""

    @property
    def action(self) -> Action: ...

    @property
    def removes_whole_set(self) -> bool:
        """True for an annotation removal whose file is gone: it counts as an item too."""
        ...


Job = TypeVar("Job", bound=GatedJob)
Admitted = TypeVar("Admitted", bound=Admittable)


class Ticket:
    """The mark of one gate on the jobs it admitted."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Limits:
    """The safety limits of one pair; ``explicit`` names those set for the pair itself."""

    max_delete: int = constants.DEFAULT_MAX_DELETE
    max_delete_annotations: int = constants.DEFAULT_MAX_DELETE_ANNOTATIONS
    explicit: frozenset[str] = frozenset()

    @classmethod
    def of(cls, pair: PairConfig) -> Limits:
        return cls(pair.max_delete, pair.max_delete_annotations, pair.explicit)


@dataclass(frozen=True, slots=True)
class Release:
    """What the gate lets run at the end of a cycle, and what it refused and why."""

    items: tuple[Any, ...] = ()          # the jobs, stamped with the gate's ticket
    annotations: tuple[Any, ...] = ()
    refused: tuple[str, ...] = ()        # one sentence per refused kind (exit 4)
    held: str | None = None              # why nothing ran although allowed (errors in the run)

    @property
    def allowed(self) -> bool:
        return not self.refused

    @property
    def reason(self) -> str:
        return "; ".join(self.refused) or (self.held or "")


@dataclass(slots=True)
class Counts:
    """What the gate saw in one cycle."""

    overwrites: int = 0
    unplanned_overwrites: int = 0
    replaced_files: int = 0              # local annotation files a pull replaced
    item_deletes: int = 0
    annotation_sets: int = 0             # items whose annotation file is gone (whole set)
    annotation_deletes: int = 0          # annotations in net removals
    labels_added: int = 0                # labels added to the dataset's ontology


@dataclass(slots=True)
class DestructionGate:
    """Admits, counts, limits and logs every destructive job of one cycle."""

    limits: Limits
    tracked_files: int = 0
    owned_annotations: int = 0
    counts: Counts = field(default_factory=Counts)
    _ticket: Ticket = field(default_factory=Ticket)
    _items: list[Any] = field(default_factory=list)
    _annotations: list[Any] = field(default_factory=list)

    def admitted(self, job: Admittable) -> bool:
        """True when ``job`` came through this gate."""
        return job.ticket is self._ticket

    def admit_overwrite(self, job: Admitted, *, planned: bool = True) -> Admitted:
        """Admit an overwrite of remote content: counted and logged, it runs at once."""
        self.counts.overwrites += 1
        if not planned:
            self.counts.unplanned_overwrites += 1
            _log.warning("overwriting an item that appeared on the platform since the listing",
                         path=job.path)
        else:
            _log.debug("overwrite admitted", path=job.path)
        return replace(job, ticket=self._ticket)  # type: ignore[type-var]

    def admit_replacement(self, job: Admitted) -> Admitted:
        """Admit a pull's replacement of a local annotation file: counted and logged."""
        self.counts.replaced_files += 1
        _log.debug("local annotation file replacement admitted", path=job.path)
        return replace(job, ticket=self._ticket)  # type: ignore[type-var]

    def admit_labels(self, paths: Sequence[str], ontology_id: str, shared: int) -> None:
        """Admit an ontology write that adds ``paths`` (never removes or changes a label):
        counted and logged, it runs at once."""
        self.counts.labels_added += len(paths)
        note = f" (ontology shared with {shared} other recipes)" if shared else ""
        _log.info(f"adding {len(paths)} labels to ontology {ontology_id}{note}",
                  labels=list(paths))

    def defer(self, job: Job) -> None:
        """Hold a delete (item or annotations) for the end of the cycle."""
        if job.action.kind is ActionKind.DELETE:
            self.counts.item_deletes += 1
            self._items.append(job)
            return
        assert job.action.kind is ActionKind.DELETE_ANNOTATIONS, job.action.kind
        if job.removes_whole_set:
            self.counts.annotation_sets += 1
        self.counts.annotation_deletes += job.action.removed
        self._annotations.append(job)

    @property
    def deferred(self) -> tuple[Any, ...]:
        """Every held delete, item deletes first."""
        return (*self._items, *self._annotations)

    def release(self, *, dry_run: bool, had_errors: bool) -> Release:
        """Decide what of the held deletes runs now; log one sentence per kind."""
        items_refusal, annotations_refusal = self._items_refusal(), self._annotations_refusal()
        refused = tuple(r for r in (items_refusal, annotations_refusal) if r)
        for reason in refused:
            _log.error(f"deletes refused: {reason}")
        items = () if items_refusal else self._stamp(self._items)
        # a gone annotation file counts as an item too: refused items hold its set back
        annotations = () if annotations_refusal else self._stamp(
            j for j in self._annotations if not (items_refusal and j.removes_whole_set))
        planned = len(items) + len(annotations)
        if dry_run:
            if planned:
                _log.info(f"dry run: {self._describe()} planned, none sent")
            return Release(refused=refused)
        if had_errors and planned:
            held = (f"{self._describe()} skipped: this run had errors; they run after an "
                    "error-free run")
            _log.warning(held)
            return Release(refused=refused, held=held)
        if planned:
            _log.info(f"deleting {self._describe()}", items=len(items),
                      annotation_jobs=len(annotations))
        return Release(items, annotations, refused)

    def _stamp(self, jobs: Iterable[Job]) -> tuple[Job, ...]:
        return tuple(replace(job, ticket=self._ticket) for job in jobs)  # type: ignore[type-var]

    def _describe(self) -> str:
        c = self.counts
        parts = []
        if c.item_deletes:
            parts.append(f"{c.item_deletes} item deletes")
        if c.annotation_deletes:
            parts.append(f"{c.annotation_deletes} annotation deletes")
        return " and ".join(parts) or "no deletes"

    def _items_refusal(self) -> str | None:
        """Items: item deletes plus annotation files gone whole, within ``max_delete``."""
        count = self.counts.item_deletes + self.counts.annotation_sets
        if count > self.limits.max_delete:
            return (f"items: {count} deletes exceed max_delete={self.limits.max_delete}; "
                    "nothing was deleted (raise max_delete to allow them)")
        explicit = "max_delete" in self.limits.explicit
        if not explicit and count > 0 and count * 2 > self.tracked_files:
            return (f"items: {count} deletes would remove more than half of the "
                    f"{self.tracked_files} tracked files; nothing was deleted (set max_delete "
                    "explicitly to allow them)")
        return None

    def _annotations_refusal(self) -> str | None:
        count, limit = self.counts.annotation_deletes, self.limits.max_delete_annotations
        if count > limit:
            return (f"annotations: {count} deletes exceed max_delete_annotations={limit}; "
                    "none was deleted (raise max_delete_annotations to allow them)")
        explicit = "max_delete_annotations" in self.limits.explicit
        if not explicit and count > constants.HALF_RULE_MIN_ANNOTATIONS and \
                count * 2 > self.owned_annotations:
            return (f"annotations: {count} deletes would remove more than half of the "
                    f"{self.owned_annotations} annotations dlsync owns on the pair; none was "
                    "deleted (set max_delete_annotations explicitly to allow them)")
        return None
