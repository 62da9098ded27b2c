"""DQL query bodies exactly as dtlpy builds them (dataloop-api.md section 9)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

Condition = dict[str, Any]

ITEM_DEFAULTS: tuple[Condition, ...] = ({"hidden": False}, {"type": "file"})
ANNOTATION_TYPES = (
    "box", "cube", "cube_3d", "class", "comparison", "ellipse", "point", "segment", "polyline",
    "pose", "binary", "subtitle", "text_mark", "gis", "ref_semantic_3d", "polyline_3d", "text",
    "ref_image",
)


def under_folder(remote_dir: str) -> Condition:
    """Items anywhere below ``remote_dir`` (recursive ``filename`` glob ``"/dir/**"``)."""
    folder = "/" + remote_dir.strip("/")
    return {"filename": "/**" if folder == "/" else f"{folder}/**"}


def keyset_query(resource: str, conditions: Sequence[Condition], page_size: int,
                 after: str | None) -> dict[str, Any]:
    """One keyset page: sort by id ascending, ``{"id": {"$gt": after}}`` appended to ``$and``."""
    conds = list(conditions)
    if after is not None:
        conds.append({"id": {"$gt": after}})
    return {"filter": {"$and": conds} if conds else {}, "sort": {"id": "ascending"},
            "page": 0, "pageSize": page_size, "resource": resource}


def item_conditions(extra: Sequence[Condition] | None, *, defaults: bool = True) -> list[Condition]:
    """The ``$and`` list of an item query: dtlpy's defaults, then ``extra``."""
    return [*(ITEM_DEFAULTS if defaults else ()), *(extra or ())]


def annotation_conditions(item_id: str) -> list[Condition]:
    """The ``$and`` list that lists one item's annotations (every type but ``note``)."""
    return [annotation_types(), {"itemId": item_id}]


def annotation_types() -> Condition:
    """The condition dtlpy adds to every annotation listing: every type but ``note``."""
    return {"type": {"$in": list(ANNOTATION_TYPES)}}


def updated_since(stamp: str) -> Condition:
    """Rows whose ``updatedAt`` (ISO 8601, UTC) is ``stamp`` or later."""
    return {"updatedAt": {"$gte": stamp}}


def behind(stamp: str, seconds: float) -> str:
    """``stamp`` (ISO 8601 UTC, ``...Z``) moved ``seconds`` earlier, in the same format."""
    when = datetime.fromisoformat(stamp.replace("Z", "+00:00")) - timedelta(seconds=seconds)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{when.microsecond // 1000:03d}Z"


def latest_query(resource: str, conditions: Sequence[Condition]) -> dict[str, Any]:
    """One row: the most recently updated ``resource`` matching ``conditions``."""
    return {"filter": {"$and": list(conditions)} if conditions else {},
            "sort": {"updatedAt": "descending"}, "page": 0, "pageSize": 1,
            "resource": resource}


def delete_query(resource: str, conditions: Sequence[Condition]) -> dict[str, Any]:
    """A delete-by-query body: no page, size or sort for items (as dtlpy sends it)."""
    return {"filter": {"$and": list(conditions)}, "resource": resource, "delete": True}


def datasets_by_name(project_id: str, name: str) -> dict[str, Any]:
    """The dataset lookup by name within one project."""
    return {"filter": {"$and": [{"name": name}]}, "page": 0, "pageSize": 1000,
            "resource": "datasets", "context": {"projects": [project_id]}}
