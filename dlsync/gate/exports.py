"""Dataset exports: one JSON document per item (the item plus its annotations), zipped or listed.

``POST /datasets/{id}/export`` (what dtlpy's ``dataset.download(annotation_options=[JSON])`` and
``datasets.export`` send) is answered with a finished command whose ``spec.outputItemId`` names
a hidden output item; dtlpy fetches it with ``GET /items/{id}`` and ``/stream`` and unzips it
into ``<local_path>/json``. The zip holds ``<filename without leading '/'>`` with the extension
replaced by ``.json`` (``exportVersion`` V1, the default) or with ``.json`` appended (V2); each
file is the item JSON as ``GET /items/{id}`` answers it with ``annotations`` holding the item's
annotations as the API answers them. ``exportType: "json"`` gives one JSON array of those
documents instead.

The output lives in the blob store; the command and its output item are kept in memory (the
newest ``EXPORTS_KEPT``) and are gone after a restart.
"""

from __future__ import annotations

import copy
import json
import tempfile
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Any

from dlsync.gate import records, render
from dlsync.gate.blobs import BlobStore
from dlsync.gate.documents import Blob
from dlsync.gate.dql import compile_query
from dlsync.gate.refusal import bad_request, not_found
from dlsync.gate.store import Store

EXPORTS_KEPT = 100
COMMAND_TYPE = "ExportDatasetAsJson"
OUTPUT_DIR = "/.dataloop/exports"
_PAGE = 1000
_COPY_CHUNK = 1 << 20
_DEFAULT_ITEMS = {"filter": {"$and": [{"hidden": False}, {"type": "file"}]}}
_VERSIONS = ("V1", "V2")
_TYPES = ("zip", "json")


@dataclass(frozen=True)
class ExportSpec:
    """What an export body asks for."""

    items_query: dict[str, Any]
    annotation_filter: dict[str, Any] | None
    include_annotations: bool
    as_zip: bool
    keep_extension: bool


@dataclass(frozen=True)
class ExportJob:
    """One export to run: which dataset, what, for whom, when, and the base URL of its JSON."""

    dataset_id: str
    spec: ExportSpec
    base: str
    user: str
    requested_at: str


def _object(body: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = body.get(key)
    if value is not None and not isinstance(value, dict):
        raise bad_request(f"export '{key}' must be a JSON object, got {type(value).__name__}")
    return value


def _choice(body: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = body.get(key, allowed[0])
    if value not in allowed:
        raise bad_request(f"export '{key}' must be one of {list(allowed)}, got {value!r}")
    return str(value)


def _items_query(body: dict[str, Any]) -> dict[str, Any]:
    """The body's ``itemsQuery`` for files, without paging, checked (Refusal 400 if malformed)."""
    query = copy.deepcopy(_object(body, "itemsQuery") or _DEFAULT_ITEMS)
    if not query.get("join"):
        query.pop("join", None)
    for key in ("page", "pageSize", "sort", "resource"):
        query.pop(key, None)
    compile_query(query, records.ITEM_FIELDS, records.ITEM_JOINS)
    query["filter"] = query.get("filter") or {}
    conditions = query["filter"].setdefault("$and", [])
    if not isinstance(conditions, list):
        raise bad_request("export itemsQuery 'filter.$and' must be a list")
    conditions.append({"type": "file"})  # folders have no document
    return query


def _annotation_filter(body: dict[str, Any], annotations: dict[str, Any]) -> dict[str, Any] | None:
    """The ``annotationsQuery`` filter when ``annotations.filter`` asks for it, checked as DQL."""
    query = _object(body, "annotationsQuery")
    if annotations.get("filter") is not True or query is None:
        return None
    condition = _object(query, "filter")
    compile_query({"filter": condition}, records.ANNOTATION_FIELDS)
    return condition


def parse_spec(body: Any) -> ExportSpec:
    """The export a ``POST /datasets/{id}/export`` body asks for; Refusal (400) if malformed."""
    if not isinstance(body, dict):
        raise bad_request("export body must be a JSON object")
    annotations = _object(body, "annotations") or {}
    return ExportSpec(
        items_query=_items_query(body),
        annotation_filter=_annotation_filter(body, annotations),
        include_annotations=annotations.get("include", True) is not False,
        as_zip=_choice(body, "exportType", _TYPES) == "zip",
        keep_extension=_choice(body, "exportVersion", _VERSIONS) == "V2",
    )


def _after(query: dict[str, Any], last: str | None) -> dict[str, Any]:
    """``query`` as one keyset page: id ascending, after ``last``."""
    page = copy.deepcopy(query)
    conditions = page.setdefault("filter", {}).setdefault("$and", [])
    if last is not None:
        conditions.append({"id": {"$gt": last}})
    page.update(sort={"id": "ascending"}, page=0, pageSize=_PAGE)
    return page


def _pages(store: Store, dataset_id: str, query: dict[str, Any],
           resource: str) -> Iterator[list[dict[str, Any]]]:
    """Every entity of ``resource`` matching ``query``, a page at a time, by id."""
    run = store.query_items if resource == "items" else store.query_annotations
    last: str | None = None
    while True:
        page = run(dataset_id, _after(query, last))
        if page.entities:
            yield page.entities
        if not page.has_next or not page.entities:
            return
        last = page.entities[-1]["id"]


def annotations_of(store: Store, dataset_id: str, item_ids: list[str], base: str,
                   condition: dict[str, Any] | None = None) -> dict[str, list[dict[str, Any]]]:
    """The annotations of ``item_ids`` (rendered for ``base``, narrowed by a DQL ``condition``),
    by item id, oldest first: ``GET /items/{id}/annotations`` and every export document."""
    conditions: list[Any] = [{"itemId": {"$in": item_ids}}]
    if condition:
        conditions.append(condition)
    found: dict[str, list[dict[str, Any]]] = {i: [] for i in item_ids}
    for page in _pages(store, dataset_id, {"filter": {"$and": conditions}}, "annotations"):
        for annotation in page:
            found[annotation["itemId"]].append(render.annotation(base, annotation))
    return found


def item_documents(store: Store, job: ExportJob) -> Iterator[dict[str, Any]]:
    """The export document of every matching item, by id."""
    spec = job.spec
    for items in _pages(store, job.dataset_id, spec.items_query, "items"):
        annotations = (annotations_of(store, job.dataset_id, [i["id"] for i in items], job.base,
                                      spec.annotation_filter)
                       if spec.include_annotations else {})
        for item in items:
            document = render.item(job.base, item)
            if job.spec.include_annotations:
                document["annotations"] = annotations[item["id"]]
            yield document


def document_path(filename: str, keep_extension: bool) -> str:
    """The zip member of an item: V1 ``/a/b.jpg`` → ``a/b.json``, V2 → ``a/b.jpg.json``."""
    relative = filename.lstrip("/")
    if keep_extension:
        return relative + ".json"
    return str(PurePosixPath(relative).with_suffix(".json"))


def write_zip(documents: Iterator[dict[str, Any]], sink: IO[bytes], keep_extension: bool) -> int:
    """Zip one JSON file per document; the first of two items mapping to one path wins."""
    written: set[str] = set()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        for document in documents:
            member = document_path(document["filename"], keep_extension)
            if member not in written:
                written.add(member)
                archive.writestr(member, json.dumps(document, ensure_ascii=False))
    return len(written)


def write_array(documents: Iterator[dict[str, Any]], sink: IO[bytes]) -> int:
    """Write the documents as one JSON array; returns how many."""
    count = 0
    sink.write(b"[")
    for document in documents:
        sink.write((b"," if count else b"") + json.dumps(document, ensure_ascii=False).encode())
        count += 1
    sink.write(b"]")
    return count


@dataclass(frozen=True)
class ExportOutput:
    """A finished export: its command and the hidden item holding the result."""

    command_id: str
    item_id: str
    job: ExportJob
    content: Blob
    count: int

    @property
    def name(self) -> str:
        """The output item's name."""
        return f"export-{self.command_id}.{'zip' if self.job.spec.as_zip else 'json'}"

    def item_json(self) -> dict[str, Any]:
        """The output item, without URLs."""
        when = self.job.requested_at
        return {
            "id": self.item_id, "datasetId": self.job.dataset_id, "type": "file",
            "filename": f"{OUTPUT_DIR}/{self.name}", "dir": OUTPUT_DIR, "name": self.name,
            "hidden": True, "createdAt": when, "updatedAt": when, "creator": self.job.user,
            "updatedBy": self.job.user, "annotationsCount": 0, "annotated": False,
            "metadata": {"system": {
                "size": self.content.size, "mimetype": self.content.mimetype,
                "originalname": self.name, "encoding": "7bit", "refs": []}},
        }

    def command_json(self, base: str) -> dict[str, Any]:
        """The export's command, finished."""
        return {
            "id": self.command_id, "url": f"{base}/commands/{self.command_id}",
            "type": COMMAND_TYPE, "status": "success", "progress": 100, "error": None,
            "createdAt": self.job.requested_at, "updatedAt": self.job.requested_at,
            "spec": {"datasetId": self.job.dataset_id, "outputItemId": self.item_id,
                     "itemsCount": self.count},
        }


def _store_output(blobs: BlobStore, spool: IO[bytes], as_zip: bool) -> Blob:
    writer = blobs.writer()
    try:
        spool.seek(0)
        while chunk := spool.read(_COPY_CHUNK):
            writer.write(chunk)
    except BaseException:
        writer.discard()
        raise
    sha256, size = writer.finish()
    return Blob(sha256=sha256, size=size,
                mimetype="application/zip" if as_zip else "application/json")


def run_export(store: Store, blobs: BlobStore, job: ExportJob) -> ExportOutput:
    """Write the export of ``job`` into the blob store (blocking: run it in a worker thread)."""
    store.require_dataset(job.dataset_id)
    with tempfile.TemporaryFile() as spool:
        documents = item_documents(store, job)
        count = (write_zip(documents, spool, job.spec.keep_extension) if job.spec.as_zip
                 else write_array(documents, spool))
        content = _store_output(blobs, spool, job.spec.as_zip)
    return ExportOutput(command_id=store.ids.next_id(), item_id=store.ids.next_id(), job=job,
                        content=content, count=count)


class ExportRegistry:
    """The newest finished exports, by command id and by output item id."""

    def __init__(self, kept: int = EXPORTS_KEPT) -> None:
        self._kept = kept
        self._by_command: OrderedDict[str, ExportOutput] = OrderedDict()
        self._by_item: dict[str, ExportOutput] = {}

    def add(self, output: ExportOutput) -> None:
        """Remember ``output``, forgetting the oldest beyond the limit."""
        self._by_command[output.command_id] = output
        self._by_item[output.item_id] = output
        while len(self._by_command) > self._kept:
            _, dropped = self._by_command.popitem(last=False)
            self._by_item.pop(dropped.item_id, None)

    def command(self, command_id: str) -> ExportOutput:
        """The export of a command; 404 if unknown (or forgotten)."""
        found = self._by_command.get(command_id)
        if found is None:
            raise not_found("command", command_id)
        return found

    def output(self, item_id: str) -> tuple[dict[str, Any], str] | None:
        """(output item JSON without URLs, sha256 of its content) if ``item_id`` is an output."""
        found = self._by_item.get(item_id)
        return None if found is None else (found.item_json(), found.content.sha256)
