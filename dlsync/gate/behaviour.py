"""How the gate answers where the Dataloop contract is uncertain: switchable guesses.

Each field is one row of "Choices where the contract is uncertain" in ``docs/gate.md`` and one
row of ``dlsync doctor --probe`` (``dlsync/doctor/probe.py``); the default is the gate's guess
about production, and tests (or ``dlsync gate serve --behaviour KEY=VALUE``) run the other way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dlsync.constants import ANNOTATION_BATCH

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})
_NONE = frozenset({"none", "null", ""})


@dataclass(frozen=True)
class GateBehaviour:
    """Guesses about production that tests may flip."""

    # Does a change to an item's task refs (added to or removed from a task, a status set or
    # cleared) move the item's updatedAt? Guess: yes, the item document changed.
    refs_move_updated_at: bool = True
    # The x-item-op header of an upload in mode=skip that finds the path taken ("" sends none).
    skip_op_header: str = "skip"
    # Does mode=overwrite keep the item (id, annotations)? Otherwise the old item is deleted
    # with its annotations and a new one made.
    overwrite_keeps_id: bool = True
    # Is the upload's `metadata` form field stored on the item? Otherwise it is ignored.
    upload_applies_metadata: bool = True
    # Does deleting an annotation move its item's updatedAt? Otherwise only the count changes.
    annotation_delete_moves_item: bool = True
    # Do item and annotation queries sort by updatedAt? Otherwise that sort key is ignored (the
    # rows come in id order).
    sort_by_updated_at: bool = True
    # Most annotations one POST /items/{id}/annotations takes (None: no limit).
    annotation_batch_limit: int | None = ANNOTATION_BATCH
    # Are an image's metadata.system width and height (and so its annotation coordinates) in
    # the displayed frame, EXIF orientation applied? Otherwise in the frame the pixels are
    # stored in.
    exif_displayed_frame: bool = True

    @classmethod
    def from_settings(cls, settings: Iterable[str]) -> GateBehaviour:
        """Defaults changed by ``KEY=VALUE`` strings; ValueError naming a bad key or value."""
        changes: dict[str, Any] = {}
        kinds = {f.name: str(f.type) for f in dataclasses.fields(cls)}
        for setting in settings:
            key, sep, raw = setting.partition("=")
            key = key.strip().replace("-", "_")
            if not sep or key not in kinds:
                raise ValueError(f"behaviour {setting!r}: expected KEY=VALUE with KEY one of "
                                 f"{', '.join(sorted(kinds))}")
            changes[key] = _parse(key, kinds[key], raw.strip())
        return cls(**changes)

    def to_json(self) -> dict[str, Any]:
        """Every switch and its value."""
        return dataclasses.asdict(self)


def _parse(key: str, kind: str, raw: str) -> Any:
    low = raw.lower()
    if kind == "bool":
        if low in _TRUE | _FALSE:
            return low in _TRUE
        raise ValueError(f"behaviour {key}: expected true or false, got {raw!r}")
    if kind.startswith("int"):
        if "None" in kind and low in _NONE:
            return None
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"behaviour {key}: expected a whole number, got {raw!r}") from None
    return raw


def without_updated_at_sort(body: Any) -> Any:
    """A DQL body with any ``updatedAt`` sort key left out (``sort_by_updated_at=False``)."""
    if not isinstance(body, dict) or not isinstance(body.get("sort"), dict):
        return body
    sort = {k: v for k, v in body["sort"].items() if k != "updatedAt"}
    return {**body, "sort": sort or {"id": "ascending"}}
