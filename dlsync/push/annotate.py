"""Bring one item's remote annotations in line with its local annotation file, as a diff.

DESIGN.md decision 6. Each local annotation has a canonical hash; dlsync stamps the hash into
the annotation it posts (``metadata.user.dlsync.hash``) and remembers the ids it created. A run:

- posts the local annotations whose hash is not among those dlsync created (counting repeats);
- deletes only annotations dlsync created whose hash left the local file, and only when the
  remote copy is still what dlsync posted; one edited on the platform is a conflict, kept;
- never touches annotations someone else made on the platform.

For YOLO, VOC and COCO files the hash is the annotation's *projection* key
(``local.labelformat``): a platform annotation counts as edited only when what the format
expresses of it changed.

When state does not know which annotations dlsync created (a lost state database, an adopted
item), the item's annotations are listed once and the stamped ones are taken as dlsync's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from dlsync.errors import AnnotationFileError
from dlsync.local.annotations import AnnotationSet, CanonicalAnnotation, canonical_annotation
from dlsync.local.labelformat import is_format_key, platform_key
from dlsync.remote import stamps
from dlsync.remote.client import DataloopClient
from dlsync.remote.types import AnnotationJson

Owned = tuple[tuple[str, str], ...]
"""``(canonical hash, annotation id)`` pairs of annotations dlsync created on an item."""


@dataclass(frozen=True, slots=True)
class AnnotationDiff:
    """How an item's annotations go from what dlsync owns there to what the file wants.

    Removed annotations matched by added ones are *replacements* (an edited box is one removal
    plus one addition): deleted in the same step as the posts, so an item never holds both the
    old and the new copy. Removals beyond the additions are *net removals*: deletions that pass
    the destruction gate, run last and are limited.
    """

    keep: Owned
    post: tuple[CanonicalAnnotation, ...]
    replace: Owned
    remove: Owned

    @property
    def removed(self) -> int:
        """Every annotation of dlsync's that leaves the item (replaced or removed)."""
        return len(self.replace) + len(self.remove)


@dataclass(frozen=True, slots=True)
class AnnotationOutcome:
    """What one item's annotation sync did, and what dlsync now owns on the item."""

    owned: Owned                         # (canonical hash, annotation id) created by dlsync
    posted: int
    deleted: int
    conflicts: tuple[str, ...]           # ids of dlsync annotations edited on the platform
    removals: Owned = ()                 # net removals left for the destruction gate (owned)


@dataclass(frozen=True, slots=True)
class AnnotationWork:
    """The annotation side of a job, as the planner read it (the file is parsed once)."""

    wanted: AnnotationSet | None
    error: AnnotationFileError | None = None
    owned: Owned | None = None           # from state; None: unknown, list the item first
    file_gone: bool = False              # the annotation file of a synced set is gone
    remove_gone: bool = False            # ... and deletes are on: the set is a net removal
    diff: AnnotationDiff | None = None   # when ``owned`` is known

    @property
    def net_removals(self) -> int:
        return len(self.diff.remove) if self.diff else 0

    @property
    def keeps_gone_set(self) -> bool:
        """True when the file is gone and deletes are off: the platform's set stays."""
        return self.file_gone and not self.remove_gone


def diff_annotations(wanted: AnnotationSet | None, owned: Sequence[tuple[str, str]]
                     ) -> AnnotationDiff:
    """Pure: what to post, what to replace and what to remove (repeats counted)."""
    if not owned:   # nothing to keep or drop: every wanted annotation is posted, in order
        return AnnotationDiff((), wanted.annotations if wanted else (), (), ())
    want = Counter(a.hash for a in wanted.annotations) if wanted else Counter[str]()
    keep: list[tuple[str, str]] = []
    drop: list[tuple[str, str]] = []
    have = Counter[str]()
    for hash_, annotation_id in sorted(owned):
        if have[hash_] < want[hash_]:
            have[hash_] += 1
            keep.append((hash_, annotation_id))
        else:
            drop.append((hash_, annotation_id))
    post = tuple(_missing(wanted, have))
    replaced = min(len(post), len(drop))
    return AnnotationDiff(tuple(keep), post, tuple(drop[:replaced]), tuple(drop[replaced:]))


def wire_annotation(annotation: CanonicalAnnotation) -> AnnotationJson:
    """The annotation as dlsync posts it: canonical content plus its hash stamp."""
    return cast(AnnotationJson, annotation.to_wire())


def _edited_on_platform(remote: AnnotationJson, stamped_hash: str) -> bool:
    if is_format_key(stamped_hash):   # a label format's key: compare projections
        return platform_key(stamped_hash, remote) != stamped_hash
    try:
        return canonical_annotation(remote).hash != stamped_hash
    except AnnotationFileError:
        return True


def _owned_from_listing(listing: Sequence[AnnotationJson]) -> list[tuple[str, str]]:
    owned = []
    for remote in listing:
        key = stamps.stamp_key(remote)
        if key is not None and remote.get("id"):
            owned.append((key[0], str(remote["id"])))
    return owned


async def sync_annotations(client: DataloopClient, dataset_id: str, item_id: str,
                           wanted: AnnotationSet | None,
                           owned: Sequence[tuple[str, str]] | None) -> AnnotationOutcome:
    """Post what ``wanted`` adds and delete the annotations it replaces; net removals are left
    in place and returned (``removals``) for the destruction gate.

    ``owned`` is what state remembers dlsync created on the item; ``None`` means unknown, and the
    item's annotations are listed to find out.
    """
    listing: list[AnnotationJson] | None = None
    if owned is None:
        listing = [a async for a in client.iter_annotations(dataset_id, item_id)]
        owned = _owned_from_listing(listing)
    diff = diff_annotations(wanted, owned)
    deleted, conflicts, kept_on_conflict = await delete_owned(client, dataset_id, item_id,
                                                              diff.replace, listing)
    created: list[tuple[str, str]] = []
    if diff.post:
        posted = await client.post_annotations_exactly_once(
            dataset_id, item_id, [wire_annotation(a) for a in diff.post])
        created = _owned_from_listing(posted)
    owned_now = diff.keep + tuple(kept_on_conflict) + diff.remove + tuple(created)
    return AnnotationOutcome(owned_now, len(diff.post), deleted, conflicts, diff.remove)


def _missing(wanted: AnnotationSet | None, have: Counter[str]) -> list[CanonicalAnnotation]:
    if wanted is None:
        return []
    left = Counter(have)
    out = []
    for annotation in wanted.annotations:
        if left[annotation.hash] > 0:
            left[annotation.hash] -= 1
        else:
            out.append(annotation)
    return out


async def delete_owned(client: DataloopClient, dataset_id: str, item_id: str,
                       drop: Sequence[tuple[str, str]],
                       listing: list[AnnotationJson] | None,
                       ) -> tuple[int, tuple[str, ...], list[tuple[str, str]]]:
    """Delete dlsync's dropped annotations unless edited on the platform since; return how
    many went, the ids kept as conflicts, and their (hash, id) pairs."""
    if not drop:
        return 0, (), []
    if listing is None:
        listing = [a async for a in client.iter_annotations(dataset_id, item_id)]
    remote_by_id = {str(a.get("id")): a for a in listing}
    deletable, conflicts, kept = [], [], []
    for hash_, annotation_id in drop:
        remote = remote_by_id.get(annotation_id)
        if remote is None:
            continue  # already gone on the platform
        if _edited_on_platform(remote, hash_):
            conflicts.append(annotation_id)
            kept.append((hash_, annotation_id))
        else:
            deletable.append(annotation_id)
    if deletable:
        await client.delete_annotations(dataset_id, deletable)
    return len(deletable), tuple(conflicts), kept
