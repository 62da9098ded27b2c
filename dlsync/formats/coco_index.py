"""A COCO file streamed once into an on-disk index, so 100,000 images fit in flat memory.

``CocoIndex.build`` reads the file with ijson (events, never the whole document) and stores
every ``images[]``, ``categories[]`` and ``annotations[]`` entry, and any other top-level key
(``info``, ``licenses``), in a temporary SQLite database. Memory stays bounded by one entry plus
SQLite's page cache whatever the file's size; the database is deleted by ``close``.

From the index a caller gets, per image and in ``path_key`` order of ``file_name``: the image,
its Dataloop annotations (``annotations``) and a content hash over its entries (``hashes``),
which changes exactly when the image's entry, one of its annotation entries or the name of one
of their categories changes; so a caller that kept the hashes can tell which images changed.

Checked while indexing, each an ``AnnotationFileError`` naming the file and the key: a file
that is not JSON or not a COCO object, an entry of the wrong shape, two images with the same
``file_name`` or id, two categories with the same id, keypoints, an annotation whose image or
category is not in the file. Geometry is checked per image, when it is read. A ``file_name``
with no local file is not an error here: ``missing_files`` lists them and the caller decides.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from dlsync.errors import AnnotationFileError
from dlsync.formats import optional
from dlsync.formats.coco import CocoImage, annotations_of
from dlsync.formats.codec import Annotation
from dlsync.model import path_key

SECTIONS = ("images", "annotations", "categories")
ITEM_PREFIXES = {f"{s}.item": s for s in SECTIONS}
STARTS, ENDS = frozenset({"start_map", "start_array"}), frozenset({"end_map", "end_array"})
SCHEMA = """
CREATE TABLE images (id INTEGER PRIMARY KEY, key BLOB NOT NULL UNIQUE, file_name TEXT NOT NULL,
                     width INTEGER NOT NULL, height INTEGER NOT NULL, position INTEGER NOT NULL,
                     body TEXT NOT NULL) STRICT;
CREATE TABLE categories (id INTEGER PRIMARY KEY, position INTEGER NOT NULL, name TEXT NOT NULL,
                         body TEXT NOT NULL) STRICT;
CREATE TABLE annotations (position INTEGER PRIMARY KEY, image_id INTEGER NOT NULL,
                          category_id INTEGER NOT NULL, id INTEGER, body TEXT NOT NULL) STRICT;
CREATE INDEX annotations_by_image ON annotations (image_id, position);
CREATE TABLE extras (position INTEGER PRIMARY KEY, key TEXT NOT NULL, body TEXT NOT NULL) STRICT;
"""


class CocoIndex:
    """The entries of one COCO file, indexed on disk; use as a context manager."""

    def __init__(self, path: Path, database: sqlite3.Connection, database_path: str) -> None:
        self.path = path
        self._db = database
        self._db_path = database_path
        self._categories: dict[int, str] | None = None

    @classmethod
    def build(cls, path: Path, workdir: Path | None = None) -> CocoIndex:
        """Index the COCO file at ``path``; the database goes to ``workdir`` (default: temp)."""
        fd, database_path = tempfile.mkstemp(prefix=".dlsync-coco-", suffix=".sqlite",
                                             dir=workdir)
        os.close(fd)
        # callers that use an index from several threads serialise every call themselves
        database = sqlite3.connect(database_path, check_same_thread=False)
        index = cls(path, database, database_path)
        try:
            database.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + SCHEMA)
            with database:
                _Loader(database, str(path)).load(path)
        except BaseException:
            index.close()
            raise
        return index

    def close(self) -> None:
        self._db.close()
        Path(self._db_path).unlink(missing_ok=True)

    def __enter__(self) -> CocoIndex:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def images(self) -> Iterator[CocoImage]:
        """Every image, in ``path_key`` order of its ``file_name``."""
        rows = self._db.execute("SELECT id, file_name, width, height FROM images ORDER BY key")
        for row in rows:
            yield CocoImage(*row)

    def image(self, file_name: str) -> CocoImage | None:
        row = self._db.execute("SELECT id, file_name, width, height FROM images WHERE key = ?",
                               (path_key(normal_name(file_name)),)).fetchone()
        return CocoImage(*row) if row else None

    def categories(self) -> dict[int, str]:
        if self._categories is None:
            self._categories = dict(self._db.execute("SELECT id, name FROM categories"))
        return self._categories

    def entries(self, image_id: int) -> Iterator[tuple[int, dict[str, Any]]]:
        """(position in ``annotations[]``, entry) of one image, in file order."""
        rows = self._db.execute("SELECT position, body FROM annotations WHERE image_id = ? "
                                "ORDER BY position", (image_id,))
        for position, body in rows:
            yield position, json.loads(body)

    def annotations(self, image: CocoImage) -> list[Annotation]:
        """The Dataloop annotations of ``image``, entry by entry in file order."""
        categories, name = self.categories(), str(self.path)
        return [a for position, entry in self.entries(image.id)
                for a in annotations_of(entry, f"annotations[{position}]", image, categories,
                                        name)]

    def content_hash(self, image: CocoImage) -> str:
        digest = hashlib.sha256()
        (body,) = self._db.execute("SELECT body FROM images WHERE id = ?", (image.id,)).fetchone()
        digest.update(body.encode() + b"\n")
        for _, entry in self.entries(image.id):
            category = self.categories().get(entry.get("category_id", -1), "")
            digest.update(_canonical(entry).encode() + b"\n" + category.encode() + b"\n")
        return digest.hexdigest()

    def hashes(self) -> Iterator[tuple[CocoImage, str]]:
        """(image, content hash) of every image, in ``path_key`` order."""
        for image in self.images():
            yield image, self.content_hash(image)

    def missing_files(self, source_root: Path) -> Iterator[str]:
        """The ``file_name`` of every image with no file under ``source_root``."""
        for image in self.images():
            if not (source_root / image.file_name).is_file():
                yield image.file_name

    def extras(self) -> Iterator[tuple[str, str]]:
        """(key, JSON text) of the top-level keys other than images, annotations, categories."""
        yield from self._db.execute("SELECT key, body FROM extras ORDER BY position")

    def raw_images(self) -> Iterator[tuple[int, str]]:
        """(id, entry JSON) of every image, in file order."""
        yield from self._db.execute("SELECT id, body FROM images ORDER BY position")

    def raw_categories(self) -> Iterator[str]:
        """The JSON of every category entry, in file order."""
        for (body,) in self._db.execute("SELECT body FROM categories ORDER BY position"):
            yield body

    def raw_annotations(self) -> Iterator[tuple[int, str]]:
        """(image id, entry JSON) of every annotation entry, in file order."""
        yield from self._db.execute("SELECT image_id, body FROM annotations ORDER BY position")

    def max_ids(self) -> tuple[int, int, int]:
        """The largest image, category and annotation id in the file (0 when there is none)."""
        row = self._db.execute("SELECT (SELECT max(id) FROM images), (SELECT max(id) FROM "
                               "categories), (SELECT max(id) FROM annotations)").fetchone()
        return tuple(v or 0 for v in row)  # type: ignore[return-value]


def normal_name(file_name: str) -> str:
    """``file_name`` as a source-relative POSIX path (a leading ``./`` removed)."""
    while file_name.startswith("./"):
        file_name = file_name[2:]
    return file_name


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class _Loader:
    """One streaming pass over the file into the database."""

    def __init__(self, database: sqlite3.Connection, name: str) -> None:
        self.db = database
        self.name = name
        self.positions = dict.fromkeys(SECTIONS, 0)
        self.seen: set[str] = set()

    def load(self, path: Path) -> None:
        try:
            import ijson
        except ImportError as exc:
            raise optional.missing("ijson", "reading COCO files") from exc
        try:
            with open(path, "rb") as file:
                events = ijson.parse(file, use_float=True)
                for prefix, value in _values(events, ijson, self.name):
                    self._store(prefix, value)
        except OSError as exc:
            raise AnnotationFileError(self.name, f"cannot read: {exc.strerror}") from exc
        except ijson.JSONError as exc:
            raise AnnotationFileError(self.name, f"invalid JSON: {exc}") from exc
        self._check_complete()

    def _store(self, prefix: str, value: Any) -> None:
        section = ITEM_PREFIXES.get(prefix)
        if section is None:
            self.seen.add(prefix)
            self.db.execute("INSERT INTO extras (key, body) VALUES (?, ?)",
                            (prefix, _canonical(value)))
            return
        position = self.positions[section]
        self.positions[section] += 1
        self.seen.add(section)
        where = f"{section}[{position}]"
        if not isinstance(value, Mapping):
            raise AnnotationFileError(self.name, f"{where} is not an object")
        getattr(self, f"_{section}")(value, position, where)

    def _images(self, entry: Mapping[str, Any], position: int, where: str) -> None:
        image_id, file_name = entry.get("id"), entry.get("file_name")
        width, height = entry.get("width"), entry.get("height")
        _require_int(image_id, f"{where}.id", self.name)
        if not isinstance(file_name, str) or not file_name:
            raise AnnotationFileError(self.name, f"{where}.file_name must be a path")
        for key, value in (("width", width), ("height", height)):
            if _require_int(value, f"{where}.{key}", self.name) <= 0:
                raise AnnotationFileError(self.name, f"{where}.{key} must be positive")
        name = normal_name(file_name)
        clash = self.db.execute("SELECT position, id FROM images WHERE key = ? OR id = ?",
                                (path_key(name), image_id)).fetchone()
        if clash is not None:
            what = "id" if clash[1] == image_id else f"file_name {file_name!r}"
            raise AnnotationFileError(self.name, f"{where} has the {what} of images[{clash[0]}]")
        self.db.execute("INSERT INTO images VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (image_id, path_key(name), name, width, height, position,
                         _canonical(entry)))

    def _categories(self, entry: Mapping[str, Any], position: int, where: str) -> None:
        category_id, name = entry.get("id"), entry.get("name")
        _require_int(category_id, f"{where}.id", self.name)
        if not isinstance(name, str) or not name:
            raise AnnotationFileError(self.name, f"{where}.name must be a non-empty string")
        try:
            self.db.execute("INSERT INTO categories VALUES (?, ?, ?, ?)",
                            (category_id, position, name, _canonical(entry)))
        except sqlite3.IntegrityError:
            raise AnnotationFileError(self.name, f"{where}.id {category_id} is used twice"
                                      ) from None

    def _annotations(self, entry: Mapping[str, Any], position: int, where: str) -> None:
        if entry.get("keypoints"):
            raise AnnotationFileError(self.name, f"{where}.keypoints: keypoints are not "
                                      "supported (the file is not read rather than misread)")
        image_id = _require_int(entry.get("image_id"), f"{where}.image_id", self.name)
        category_id = _require_int(entry.get("category_id"), f"{where}.category_id", self.name)
        entry_id = entry.get("id")
        self.db.execute("INSERT INTO annotations VALUES (?, ?, ?, ?, ?)",
                        (position, image_id, category_id,
                         entry_id if isinstance(entry_id, int) else None, _canonical(entry)))

    def _check_complete(self) -> None:
        if "images" not in self.seen:
            raise AnnotationFileError(self.name, "no 'images' list: not a COCO file")
        for column, table in (("image_id", "images"), ("category_id", "categories")):
            row = self.db.execute(f"SELECT position, {column} FROM annotations WHERE {column} "
                                  f"NOT IN (SELECT id FROM {table}) LIMIT 1").fetchone()
            if row is not None:
                raise AnnotationFileError(self.name, f"annotations[{row[0]}].{column} {row[1]} "
                                          f"is not in '{table}'")


def _require_int(value: Any, where: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise AnnotationFileError(name, f"{where} must be an integer")
    return value


def _values(events: Iterator[tuple[str, str, Any]], ijson: Any,
            name: str) -> Iterator[tuple[str, Any]]:
    """(prefix, value) of every entry of the three sections and of every other top-level key."""
    top_key = None  # the top-level key being read (a key may itself contain dots)
    for prefix, event, value in events:
        if prefix == "" and event not in ("start_map", "map_key", "end_map"):
            raise AnnotationFileError(name, "the root is not an object: not a COCO file")
        if prefix == "" and event == "map_key":
            top_key = value
            continue
        wanted = prefix in ITEM_PREFIXES or (prefix == top_key and prefix not in SECTIONS)
        if not wanted or event in ENDS or event == "map_key":
            continue
        if event not in STARTS:
            yield prefix, value
            continue
        builder = ijson.ObjectBuilder()
        builder.event(event, value)
        depth = 1
        for _, inner, inner_value in events:
            builder.event(inner, inner_value)
            depth += (inner in STARTS) - (inner in ENDS)
            if depth == 0:
                break
        yield prefix, builder.value
