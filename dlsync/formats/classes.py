"""YOLO class names: a ``data.yaml`` or a text file with one name per line.

    data.yaml    ``names`` is a list (the index is the class id) or an ``{id: name}`` map;
                 ``kpt_shape`` marks a pose dataset, which dlsync does not read (its label lines
                 would otherwise look like polygons). Never written: a label missing from it
                 is an error.
    *.txt        line N (from 0) names class N; trailing blank lines are ignored. A label
                 missing from it is appended as a new last line.

When no file is given, ``DIR/../data.yaml``, ``DIR/data.yaml`` and ``DIR/classes.txt`` are tried
in that order (``DIR`` is the labels directory, so the first is the Ultralytics layout
``dataset/{data.yaml,images/,labels/}``). Every problem is an ``AnnotationFileError`` naming the
file, and the line or key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlsync.errors import AnnotationFileError
from dlsync.formats import optional
from dlsync.local import atomic

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class ClassList:
    """Class ids and names from ``path``; ``editable`` when new names may be appended to it."""

    path: Path
    names: Mapping[int, str]
    editable: bool
    pose: bool = False
    _ids: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_ids", {name: i for i, name in self.names.items()})

    def name_of(self, class_id: int) -> str | None:
        return self.names.get(class_id)

    def id_of(self, name: str) -> int | None:
        return self._ids.get(name)


def candidates(labels_dir: Path) -> tuple[Path, ...]:
    """The classes files tried, in order, when none is given."""
    return labels_dir.parent / "data.yaml", labels_dir / "data.yaml", labels_dir / "classes.txt"


def find_classes_file(labels_dir: Path) -> Path:
    """The first of ``candidates(labels_dir)`` that exists."""
    tried = candidates(labels_dir)
    for path in tried:
        if path.is_file():
            return path
    raise AnnotationFileError(str(labels_dir), "no YOLO classes file; tried "
                              + ", ".join(str(p) for p in tried) + " (or name one)")


def load_classes(path: Path) -> ClassList:
    """Read a ``data.yaml`` or a one-name-per-line text file."""
    if path.suffix.lower() in YAML_SUFFIXES:
        return _load_yaml(path)
    return _load_text(path)


def add_names(classes: ClassList, names: Iterable[str]) -> ClassList:
    """``classes`` with ``names`` it lacks appended, written to its text file atomically."""
    new = [n for n in dict.fromkeys(names) if classes.id_of(n) is None]
    if not new:
        return classes
    if not classes.editable:
        raise AnnotationFileError(str(classes.path), f"labels {new} are not in 'names'; add "
                                  "them to the file (dlsync does not rewrite a data.yaml)")
    for name in new:
        if _check_name(name, str(classes.path), f"new label {name!r}") != name.strip():
            raise AnnotationFileError(str(classes.path), f"label {name!r} has surrounding "
                                      "spaces, which a classes text file cannot hold")
    start = max(classes.names, default=-1) + 1
    names_by_id = dict(classes.names) | {start + i: n for i, n in enumerate(new)}
    text = "".join(f"{names_by_id.get(i, '')}\n" for i in range(start + len(new)))
    atomic.write_text(classes.path, text)
    return ClassList(classes.path, names_by_id, editable=True)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise AnnotationFileError(str(path), "classes file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise AnnotationFileError(str(path), f"cannot read the classes file: {exc}") from exc


def _load_text(path: Path) -> ClassList:
    lines = _read_text(path).splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    names: dict[int, str] = {}
    for number, line in enumerate(lines):
        names[number] = _check_name(line.strip(), str(path), f"line {number + 1}")
    _check_unique(names, str(path))
    return ClassList(path, names, editable=True)


def _load_yaml(path: Path) -> ClassList:
    try:
        import yaml
    except ImportError as exc:
        raise optional.missing("PyYAML", "reading a YOLO data.yaml") from exc
    try:
        document = yaml.safe_load(_read_text(path))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise AnnotationFileError(str(path), f"invalid YAML{where}") from exc
    if not isinstance(document, dict) or "names" not in document:
        raise AnnotationFileError(str(path), "no 'names' key")
    names = _yaml_names(document["names"], str(path))
    _check_unique(names, str(path))
    return ClassList(path, names, editable=False, pose="kpt_shape" in document)


def _yaml_names(value: Any, name: str) -> dict[int, str]:
    if isinstance(value, list):
        return {i: _check_name(v, name, f"names[{i}]") for i, v in enumerate(value)}
    if not isinstance(value, dict):
        raise AnnotationFileError(name, "'names' must be a list or an {id: name} map")
    result: dict[int, str] = {}
    for key, item in value.items():
        if isinstance(key, bool) or not isinstance(key, int) or key < 0:
            raise AnnotationFileError(name, f"names key {key!r} is not a class id (0, 1, ...)")
        result[key] = _check_name(item, name, f"names[{key}]")
    return result


def _check_name(value: Any, name: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AnnotationFileError(name, f"{where}: class name must be a non-empty string")
    if "\n" in value or "\r" in value:
        raise AnnotationFileError(name, f"{where}: class name contains a line break")
    return value


def _check_unique(names: Mapping[int, str], name: str) -> None:
    seen: dict[str, int] = {}
    for class_id, class_name in names.items():
        if class_name in seen:
            raise AnnotationFileError(name, f"class {class_name!r} is named twice "
                                      f"(ids {seen[class_name]} and {class_id})")
        seen[class_name] = class_id

