"""The keys each table accepts and their converters; converted values → a checked PairConfig.

Both the file (``config.file``) and the command line (``config.flags``) go through ``fields`` and
``build_pair``, so a flag is validated exactly like the key of the same name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from dlsync import constants
from dlsync.config import convert
from dlsync.config.convert import Convert, Where, suggest
from dlsync.config.settings import (
    LOCAL,
    LabelPolicy,
    LogFormat,
    LogLevel,
    PairConfig,
    RemoteConfig,
)
from dlsync.local.layout import AnnotationLayout, LabelFormat, LayoutKind
from dlsync.model import ConflictPolicy, Direction
from dlsync.priority import Priority

PAIR_KEYS: dict[str, Convert] = {
    "source": convert.path,
    "remote": convert.string,
    "project": convert.string,
    "dataset": convert.string,
    "remote_dir": convert.remote_dir,
    "annotations": convert.annotation_layout,
    "annotation_format": convert.choice(LabelFormat),
    "classes": convert.path,
    "create": convert.boolean,
    "delete": convert.boolean,
    "max_delete": convert.integer(0),
    "max_delete_annotations": convert.integer(0),
    "allow_empty_root": convert.boolean,
    "delete_excluded": convert.boolean,
    "backup_dir": convert.remote_dir,
    "workers": convert.integer(1),
    "ignore": convert.strings,
    "follow_symlinks": convert.boolean,
    "settle": convert.number(0.0),
    "delete_grace": convert.number(0.0),
    "reconcile_interval": convert.number(0.0, inclusive=False),
    "full_listing_interval": convert.number(0.0),
    "direction": convert.choice(Direction),
    "conflict": convert.choice(ConflictPolicy),
    "labels": convert.choice(LabelPolicy),
    "task": convert.string,
    "task_assignees": convert.emails,
    "pull_status": convert.statuses,
}
REQUIRED_PAIR_KEYS = ("source", "project", "dataset")
REMOTE_KEYS: dict[str, Convert] = {
    "url": convert.url,
    "token_file": convert.path,
    "rate": convert.number(0.0, inclusive=False),
    "burst": convert.integer(1),
    "concurrency": convert.integer(1),
    "bwlimit": convert.bandwidth,
    "stall_timeout": convert.number(0.0, inclusive=False),
    "blind_retry_max_size": convert.byte_size,
    "max_attempts": convert.integer(1),
    "max_total_wait": convert.number(0.0, inclusive=False),
    "ca_file": convert.path,
    "verify_ssl": convert.boolean,
}
SERVICE_KEYS: dict[str, Convert] = {
    "metrics": convert.boolean,
    "metrics_address": convert.address,
    "shutdown_timeout": convert.number(0.0),
    "priority": convert.choice(Priority),
}
LOGGING_KEYS: dict[str, Convert] = {"level": convert.choice(LogLevel),
                                    "format": convert.choice(LogFormat)}
STATE_KEYS: dict[str, Convert] = {"path": convert.path}
TOP_KEYS = ("defaults", "remotes", "pairs", "service", "logging", "state")

LIMIT_KEYS = ("max_delete", "max_delete_annotations")
"""Keys whose explicit setting lifts a half-of-tracked rule (docs/operations.md)."""

_SECRET_HINT = ("tokens are not read from config files: set token_file in the remote, "
                f"${constants.TOKEN_ENV}, or the systemd credential {constants.TOKEN_CREDENTIAL}")


def fields(raw: Mapping[str, object], spec: Mapping[str, Convert],
           where: Where) -> dict[str, Any]:
    """Each key of ``raw`` converted by ``spec``; unknown keys are errors with a suggestion."""
    typed: dict[str, Any] = {}
    for key, value in raw.items():
        here = where.child(key)
        if key not in spec:
            hint = f"; {_SECRET_HINT}" if "token" in key.lower() else suggest(key, spec)
            raise here.error(f"unknown key{hint}")
        if value is not None:
            typed[key] = spec[key](value, here)
    return typed


def section(data: Mapping[str, object], name: str, spec: Mapping[str, Convert],
            where: Where) -> dict[str, Any]:
    """The table ``name`` of ``data`` converted by ``spec``; ``{}`` when it is absent."""
    if name not in data:
        return {}
    return fields(convert.table(data[name], where.child(name)), spec, where.child(name))


def _resolve_remote(name: str, remotes: Mapping[str, RemoteConfig], where: Where) -> RemoteConfig:
    if name in remotes:
        return remotes[name]
    if name == constants.LOCAL_REMOTE:
        return LOCAL
    if re.match(r"^https?://", name):
        return RemoteConfig(name=name, url=convert.url(name, where))
    raise where.error(f"unknown remote {name!r}{suggest(name, remotes)}; use a name from "
                      "[remotes], an https:// URL, or \"local\"")


def build_pair(name: str, typed: Mapping[str, Any], remotes: Mapping[str, RemoteConfig],
               where: Where, *, explicit: frozenset[str] | None = None) -> PairConfig:
    """A PairConfig from already converted values; checks required keys and the remote.

    A limit counts as explicit when ``typed`` holds it, unless the caller says which are.
    """
    for key in REQUIRED_PAIR_KEYS:
        if key not in typed:
            raise where.child(key).error("missing required key")
    values = dict(typed)
    if isinstance(values.get("remote"), str):
        values["remote"] = _resolve_remote(values["remote"], remotes, where.child("remote"))
    if explicit is None:
        explicit = frozenset(key for key in LIMIT_KEYS if key in typed)
    values.pop("explicit", None)
    values["annotations"] = label_layout(values, where)
    return PairConfig(name=name, explicit=explicit, **values)


def label_layout(values: Mapping[str, Any], where: Where) -> AnnotationLayout:
    """The pair's annotation layout with its label format (docs/formats.md, "Layouts").

    ``sidecar`` stays Dataloop JSON: with ``yolo`` or ``voc`` it is an error; ``coco`` needs
    ``annotations`` to name one ``.json`` file; ``classes`` is only for ``yolo``.
    """
    layout: AnnotationLayout = values.get("annotations", AnnotationLayout.sidecar())
    name: LabelFormat = values.get("annotation_format", LabelFormat.DATALOOP)
    here = where.child("annotation_format")
    if name is LabelFormat.DATALOOP:
        if values.get("classes") is not None:
            raise where.child("classes").error("classes is for annotation_format = \"yolo\"")
        return replace(layout, format=name)
    if layout.kind is not LayoutKind.DIRECTORY or layout.directory is None:
        raise here.error(f"{name.value} needs annotations to name "
                         f"{'a .json file' if name is LabelFormat.COCO else 'a folder'}, "
                         f"not {layout.kind.value!r} (sidecar files are Dataloop JSON)")
    if name is LabelFormat.COCO and layout.directory.suffix.lower() != ".json":
        raise where.child("annotations").error(
            f"with annotation_format = \"coco\", annotations must name a .json file, "
            f"got {str(layout.directory)!r}")
    if values.get("classes") is not None and name is not LabelFormat.YOLO:
        raise where.child("classes").error("classes is for annotation_format = \"yolo\"")
    return replace(layout, format=name)
