"""Label trees of ontologies: checked when written whole, changed node by node, as pure functions.

An ontology's labels are ``roots``: ``{"value": {"tag", "displayLabel", "color", "attributes",
"displayData"}, "children": [<root>...]}``. A child's ``tag`` is its own name (``dog``); requests
that change single labels name it by its path (``animal.dog``), so a stored tag never holds a dot.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, TypedDict

from dlsync.gate.refusal import bad_request

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


class LabelValue(TypedDict):
    """What one label says about itself."""

    tag: str
    displayLabel: str
    color: str
    attributes: list[Any]
    displayData: dict[str, Any]


class LabelChanges(TypedDict, total=False):
    """The label fields one request sets."""

    color: str
    displayLabel: str
    attributes: list[Any]
    displayData: dict[str, Any]


class LabelRoot(TypedDict):
    """A label with its sub-labels."""

    value: LabelValue
    children: list[LabelRoot]


def default_colour(tag: str) -> str:
    """A stable colour for a label sent without one."""
    return "#" + hashlib.sha256(tag.encode()).hexdigest()[:6]


def _checked(value: Any, name: str, kind: type, where: str) -> Any:
    if not isinstance(value, kind):
        raise bad_request(f"label {where!r}: '{name}' must be a {kind.__name__}, got {value!r}")
    return value


def _colour(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _COLOUR.match(value):
        raise bad_request(f"label {where!r}: 'color' must be '#rrggbb', got {value!r}")
    return value.lower()


def _tag(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise bad_request(f"a label needs a non-empty string 'tag', got {raw!r}")
    if any(ord(c) < 32 for c in raw):
        raise bad_request(f"label tag {raw!r} contains a control character")
    return raw


def _changes(raw: dict[str, Any], where: str) -> LabelChanges:
    """The label fields ``raw`` sets (None means "not sent"), checked."""
    found = LabelChanges()
    if raw.get("color") is not None:
        found["color"] = _colour(raw["color"], where)
    if raw.get("displayLabel") is not None:
        found["displayLabel"] = _checked(raw["displayLabel"], "displayLabel", str, where)
    if raw.get("attributes") is not None:
        found["attributes"] = _checked(raw["attributes"], "attributes", list, where)
    if raw.get("displayData") is not None:
        found["displayData"] = _checked(raw["displayData"], "displayData", dict, where)
    return found


def _apply(value: LabelValue, changes: LabelChanges) -> None:
    if "color" in changes:
        value["color"] = changes["color"]
    if "displayLabel" in changes:
        value["displayLabel"] = changes["displayLabel"]
    if "attributes" in changes:
        value["attributes"] = changes["attributes"]
    if "displayData" in changes:
        value["displayData"] = changes["displayData"]


def new_value(tag: str, raw: dict[str, Any], where: str) -> LabelValue:
    """A label's value from the fields of ``raw``, with defaults for those not sent."""
    value = LabelValue(tag=tag, displayLabel=tag, color=default_colour(where), attributes=[],
                       displayData={})
    _apply(value, _changes(raw, where))
    return value


def clean_roots(raw: Any, parent: str = "") -> list[LabelRoot]:
    """The label tree of a whole-ontology write, checked: tags without dots, unique siblings."""
    if not isinstance(raw, list):
        raise bad_request(f"ontology 'roots' must be a list of labels, got {type(raw).__name__}")
    roots: list[LabelRoot] = []
    for entry in raw:
        if not isinstance(entry, dict):
            raise bad_request(f"a label must be an object, got {entry!r}")
        value = entry.get("value", entry)
        if not isinstance(value, dict):
            raise bad_request(f"label 'value' must be an object, got {value!r}")
        tag = _tag(value.get("tag"))
        if "." in tag:
            raise bad_request(f"label tag {tag!r} contains '.', which separates nested labels")
        path = f"{parent}.{tag}" if parent else tag
        if any(r["value"]["tag"] == tag for r in roots):
            raise bad_request(f"label {path!r} appears twice")
        children = clean_roots(entry.get("children") or [], path)
        roots.append(LabelRoot(value=new_value(tag, value, path), children=children))
    return roots


def _find(roots: list[LabelRoot], tag: str) -> LabelRoot | None:
    return next((r for r in roots if r["value"]["tag"] == tag), None)


def _siblings(roots: list[LabelRoot], path: str) -> list[LabelRoot]:
    """The list a label at ``path`` belongs in; its parent must exist."""
    *parents, _ = path.split(".")
    level = roots
    for depth, tag in enumerate(parents):
        parent = _find(level, tag)
        if parent is None:
            raise bad_request(f"label {path!r}: its parent {'.'.join(parents[:depth + 1])!r} "
                              f"is not in the ontology")
        level = parent["children"]
    return level


def apply_node(roots: list[LabelRoot], node: Any, *, upsert: bool) -> None:
    """Add or change the label one ``labelsNode`` entry names by path (``animal.dog``)."""
    if not isinstance(node, dict):
        raise bad_request(f"a labelsNode entry must be an object, got {node!r}")
    path = _tag(node.get("tag"))
    if any(not part for part in path.split(".")):
        raise bad_request(f"label path {path!r} has an empty part")
    level = _siblings(roots, path)
    leaf = path.rsplit(".", 1)[-1]
    found = _find(level, leaf)
    if found is not None:
        _apply(found["value"], _changes(node, path))
    elif upsert:
        level.append(LabelRoot(value=new_value(leaf, node, path), children=[]))
    else:
        raise bad_request(f"label {path!r} is not in the ontology; send upsert: true to add it")
