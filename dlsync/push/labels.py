"""The labels a mirror's annotations use, added to the dataset's ontology before the posts.

``LabelKeeper`` learns the ontology on first need (the dataset's default recipe → its first
ontology; and how many other recipes share it). Before an item's annotations are posted,
``ensure`` makes sure every label they name is in the ontology: labels it already knows cost
nothing; otherwise, under one lock, it re-reads the ontology (someone may have added labels
meanwhile), and adds only what is still missing with one ``PATCH /ontologies/{id}/labels``
(dtlpy's ``add_labels``), parents first. The platform applies that call label by label, so no
label someone else has is removed or changed; a ``PUT`` of the whole tree would drop labels
added between the read and the write.

Every such write passes the destruction gate (counted, logged). A 403 on it is a warning (the
token may post annotations but not edit the recipe): the annotations still go up. A label the
ontology refuses (400) is reported by name and fails the run (exit 1); the annotations still go
up. Labels that came down by pull are never ensured: a pulled item has nothing to post.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import anyio

from dlsync import labels, logs
from dlsync.destruction import DestructionGate
from dlsync.errors import AuthError, BadRequestError, DlsyncError, is_fatal
from dlsync.local.annotations import AnnotationSet
from dlsync.model import ActionKind
from dlsync.push.annotate import AnnotationWork, Owned, diff_annotations
from dlsync.push.tally import Tally
from dlsync.remote.client import DataloopClient
from dlsync.remote.ontology import OntologyRef

_log = logs.get_logger(__name__)


def labels_to_post(wanted: AnnotationSet | None, owned: Owned | None) -> set[str]:
    """The labels of the annotations an item step will post (all of the file's when what
    dlsync owns on the item is unknown: the step lists it first)."""
    if wanted is None:
        return set()
    if owned is None:
        return labels.labels_used(wanted.annotations)
    return labels.labels_used(diff_annotations(wanted, owned).post)


@dataclass(frozen=True, slots=True)
class LabelLine:
    """One label the plan adds, and how many other recipes share the ontology."""

    path: str
    shared: int = 0

    @property
    def reason(self) -> str:
        note = f"; ontology shared with {self.shared} other recipes" if self.shared else ""
        return f"missing from the dataset's ontology{note}"


@dataclass(slots=True)
class LabelKeeper:
    """The ontology side of one cycle: what it holds, and the labels this cycle added."""

    client: DataloopClient
    dataset_id: str
    gate: DestructionGate | None = None
    ref: OntologyRef | None = None
    shared: int = 0
    known: set[str] | None = None
    added: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)   # label → why the platform refused
    forbidden: bool = False
    _lock: anyio.Lock = field(default_factory=anyio.Lock)

    async def _load(self) -> set[str]:
        """Read the ontology (first time: find it and who shares it); every path it holds."""
        if self.ref is None:
            self.ref = await self.client.dataset_ontology(self.dataset_id)
            users = await self.client.recipes_using(self.ref.ontology_id)
            self.shared = len([r for r in users if r != self.ref.recipe_id])
        ontology = await self.client.ontology(self.ref.ontology_id)
        return labels.tree_paths(ontology.get("roots") or [])

    async def preview(self, wanted: Iterable[str]) -> list[LabelLine]:
        """The labels a run would add for ``wanted`` (the dry run's plan lines)."""
        wanted = set(wanted)
        if not wanted:
            return []
        known = await self._load()
        return [LabelLine(path, self.shared) for path in labels.missing(wanted, known)]

    async def ensure(self, wanted: set[str]) -> None:
        """Make sure the ontology holds every label of ``wanted`` before it is posted."""
        if not wanted or (self.known is not None and wanted <= self.known):
            return
        async with self._lock:
            if self.known is not None and wanted <= self.known:
                return
            try:
                await self._add_missing(wanted)
            except DlsyncError as exc:
                self._failed(wanted, exc)

    async def _add_missing(self, wanted: set[str]) -> None:
        self.known = await self._load()     # re-read right before the write
        paths = labels.missing(wanted, self.known)
        if not paths:
            return
        assert self.ref is not None
        if self.gate is not None:
            self.gate.admit_labels(paths, self.ref.ontology_id, self.shared)
        try:
            await self.client.add_labels(self.ref.ontology_id,
                                         [labels.label_node(p) for p in paths])
        except BadRequestError:
            await self._one_by_one(paths)
            return
        self.known.update(paths)
        self.added.extend(paths)

    async def _one_by_one(self, paths: Sequence[str]) -> None:
        """After a refused batch: each label alone, so one bad name holds back no other."""
        assert self.ref is not None and self.known is not None
        for path in paths:
            if any(parent in self.refused for parent in labels.with_parents(path)):
                self.refused[path] = "its parent label was refused"
                self.known.add(path)
                continue
            try:
                await self.client.add_labels(self.ref.ontology_id, [labels.label_node(path)])
            except BadRequestError as exc:
                self.refused[path] = logs.scrub(str(exc))
                _log.error("the ontology refused a label; annotations using it are posted "
                           "without it", label=path, error=self.refused[path])
            else:
                self.added.append(path)
            self.known.add(path)

    def _failed(self, wanted: set[str], exc: DlsyncError) -> None:
        """A failed ontology write: a 403 warns, anything else is reported by label."""
        if self.known is None:
            self.known = set()
        self.known |= wanted      # never asked again this cycle; the next run tries again
        if isinstance(exc, AuthError) and exc.status == 403:
            if not self.forbidden:
                _log.warning("not allowed to add labels to the dataset's ontology; annotations "
                             "are posted without them (ask for recipe edit rights, or set "
                             "labels = \"off\")", error=logs.scrub(str(exc)))
            self.forbidden = True
            return
        if is_fatal(exc):
            raise exc
        for path in sorted(wanted):
            self.refused.setdefault(path, logs.scrub(str(exc)))
        _log.error("could not add labels to the dataset's ontology; retried next run",
                   labels=sorted(wanted), error=logs.scrub(str(exc)))


def planned_labels(works: Iterable[AnnotationWork | None]) -> set[str]:
    """The labels the planned item steps will post (the dry run's view)."""
    found: set[str] = set()
    for work in works:
        if work is None or work.wanted is None or work.error is not None:
            continue
        posted = work.diff.post if work.diff is not None else work.wanted.annotations
        found |= labels.labels_used(posted)
    return found


def report(keeper: LabelKeeper, tally: Tally) -> None:
    """What the cycle's ontology writes did, into the tally: labels added, labels refused."""
    tally.labels_added += len(keeper.added)
    for path, reason in sorted(keeper.refused.items()):
        tally.failed(ActionKind.ANNOTATE, f"label {path}",
                     f"not added to the ontology: {reason}")
