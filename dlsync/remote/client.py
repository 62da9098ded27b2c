"""``DataloopClient``: typed operations on projects, datasets, items and annotations.

Use it as ``async with DataloopClient(settings, credentials) as client``. All requests share one
pooled aiohttp session and one pacer (``dlsync.remote.pacer``); failures arrive as
``dlsync.errors`` classes (``dlsync.remote.session`` translates them).

Which calls are retried by the pacer (``Idempotency``): reads, PATCH/PUT, deletes and uploads in
``mode=skip`` or ``overwrite`` are SAFE; creating a project, dataset or folder and posting
annotations are UNSAFE and re-sent only when the remote certainly did not get them.
"""

from __future__ import annotations

import json
import mimetypes
import os
import posixpath
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Literal, Self, cast
from urllib.parse import quote

import aiohttp

from dlsync import constants, logs
from dlsync.errors import (
    AmbiguousWriteError,
    BadRequestError,
    IntegrityError,
    LocalFileError,
    NotFoundError,
    ProtocolError,
    ServerError,
    TransportError,
)
from dlsync.remote import dql, replies, stamps
from dlsync.remote.credentials import Credentials
from dlsync.remote.pacer import Idempotency, Pacer
from dlsync.remote.session import RemoteSession, Reply, Request
from dlsync.remote.settings import RemoteSettings
from dlsync.remote.types import (
    AnnotationJson,
    DatasetJson,
    DirectoryNodeJson,
    ItemJson,
    ProjectJson,
    UploadOp,
    UploadResult,
)

SAFE, UNSAFE = Idempotency.SAFE, Idempotency.UNSAFE
UploadMode = Literal["skip", "overwrite"]

log = logs.get_logger(__name__)


class DataloopClient:
    """One remote: its settings, credentials, pacer and connection pool."""

    def __init__(self, settings: RemoteSettings, credentials: Credentials, *,
                 pacer: Pacer | None = None) -> None:
        self.settings = settings
        self.pacer = pacer or Pacer(settings.pacer_settings())
        self._session = RemoteSession(settings, credentials, self.pacer)

    async def __aenter__(self) -> Self:
        await self._session.open()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self._session.close()

    def __repr__(self) -> str:
        return f"DataloopClient(url={self.settings.base_url!r})"

    @property
    def credentials(self) -> Credentials:
        """The credentials in use (after any refresh)."""
        return self._session.credentials

    async def _call(self, method: str, path: str, what: str, idem: Idempotency = SAFE,
                    **kw: Any) -> tuple[Reply, Request]:
        req = Request(method, path, what, idem, **kw)
        return await self._session.request(req), req

    # -- projects and datasets ---------------------------------------------------------------

    async def get_project(self, name: str, *, create: bool = False) -> ProjectJson:
        """The project called ``name``; created when missing and ``create`` is set."""
        found = await self._projects_named(name)
        if len(found) == 1:
            return cast(ProjectJson, found[0])
        if found:
            raise ProtocolError(f"{len(found)} projects are named {name!r} on "
                                f"{self.settings.base_url}; expected one")
        if not create:
            raise NotFoundError(f"no project named {name!r} on {self.settings.base_url}")
        return cast(ProjectJson, await self._create_once(
            lambda: self._projects_named(name), lambda: self._post_project(name)))

    async def _post_project(self, name: str) -> dict[str, Any]:
        reply, req = await self._call("POST", "/projects", f"create project {name!r}", UNSAFE,
                                      body=_form({"name": name}))
        return dict(replies.entity(reply.body, req))

    async def _create_once(self, find: Callable[[], Awaitable[list[dict[str, Any]]]],
                           post: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
        """``post`` a create; after a failure that may have applied it (5xx, no reply), look
        for the entity with ``find`` before posting again, so it is never created twice. A 409
        (someone else created it first, e.g. another pair of the same service) returns theirs."""
        for _ in range(constants.MAX_ATTEMPTS - 1):
            try:
                return await post()
            except BadRequestError as exc:
                found = await find() if exc.status == 409 else []
                if len(found) == 1:
                    return found[0]
                raise
            except (ServerError, TransportError) as exc:
                found = await find()
                if len(found) == 1:
                    return found[0]
                log.warning("create failed, will look again and retry", error=str(exc))
        return await post()

    async def _projects_named(self, name: str) -> list[dict[str, Any]]:
        """Projects called ``name`` (a 404 from the lookup means none)."""
        try:
            reply, req = await self._call("GET", f"/projects/{quote(name, safe='')}/name",
                                          f"project {name!r}")
        except NotFoundError:
            return []
        return replies.entities(reply.body, req)

    async def get_dataset(self, project_id: str, name: str, *,
                          create: bool = False) -> DatasetJson:
        """The dataset ``name`` in project ``project_id``; created when missing and asked."""
        found = await self._datasets_named(project_id, name)
        if len(found) == 1:
            return cast(DatasetJson, found[0])
        if found:
            raise ProtocolError(f"dataset {name!r} in project {project_id}: "
                                f"{len(found)} datasets have this name")
        if not create:
            raise NotFoundError(f"no dataset named {name!r} in project {project_id}")
        return cast(DatasetJson, await self._create_once(
            lambda: self._datasets_named(project_id, name),
            lambda: self._post_dataset(project_id, name)))

    async def _datasets_named(self, project_id: str, name: str) -> list[dict[str, Any]]:
        reply, req = await self._call("POST", "/datasets/query", f"dataset {name!r}",
                                      json=dql.datasets_by_name(project_id, name),
                                      headers={"user_query": "true"})
        return list(replies.page(reply.body, req)["items"])

    async def _post_dataset(self, project_id: str, name: str) -> dict[str, Any]:
        body = {"name": name, "projects": [project_id], "createDefaultRecipe": True}
        reply, req = await self._call("POST", "/datasets", f"create dataset {name!r}", UNSAFE,
                                      json=body)
        return dict(replies.entity(reply.body, req))

    async def get_dataset_by_id(self, dataset_id: str) -> DatasetJson:
        """The dataset with id ``dataset_id``."""
        reply, req = await self._call("GET", f"/datasets/{dataset_id}", f"dataset {dataset_id}")
        return cast(DatasetJson, replies.entity(reply.body, req))

    async def directory_tree(self, dataset_id: str) -> DirectoryNodeJson:
        """The folder tree of a dataset: ``{"value": <dir item>, "children": [...]}``."""
        reply, req = await self._call("GET", f"/datasets/{dataset_id}/directoryTree",
                                      f"dataset {dataset_id}")
        if not isinstance(reply.body, dict) or not isinstance(reply.body.get("value"), dict):
            raise ProtocolError(f"{req.describe()}: the tree has no 'value' object")
        return cast(DirectoryNodeJson, reply.body)

    # -- listing -----------------------------------------------------------------------------

    async def _iter_query(self, dataset_id: str, resource: str,
                          conditions: Sequence[dql.Condition], what: str,
                          ) -> AsyncIterator[dict[str, Any]]:
        """Every entity matching ``conditions``, in id order, one keyset page at a time."""
        after: str | None = None
        while True:
            body = dql.keyset_query(resource, conditions, self.settings.page_size, after)
            reply, req = await self._call("POST", f"/datasets/{dataset_id}/query", what,
                                          json=body, headers={"user_query": "true"})
            page = replies.page(reply.body, req)
            for one in page["items"]:
                yield one
            if not page["hasNextPage"] or not page["items"]:
                return
            after = page["items"][-1]["id"]

    async def iter_items(self, dataset_id: str, filters: Sequence[dql.Condition] | None = None,
                         *, defaults: bool = True) -> AsyncIterator[ItemJson]:
        """Items of a dataset (files, not hidden, unless ``defaults=False``) matching ``filters``.

        ``filters`` are DQL conditions appended to ``$and``, e.g. ``[dql.under_folder("/d")]``.
        """
        conditions = dql.item_conditions(filters, defaults=defaults)
        async for one in self._iter_query(dataset_id, "items", conditions,
                                          f"list items of dataset {dataset_id}"):
            yield cast(ItemJson, one)

    async def get_item(self, item_id: str) -> ItemJson:
        """The item with id ``item_id``."""
        reply, req = await self._call("GET", f"/items/{item_id}", f"item {item_id}")
        return cast(ItemJson, replies.entity(reply.body, req))

    async def get_item_by_path(self, dataset_id: str, filename: str, *,
                               item_type: str = "file") -> ItemJson:
        """The item whose ``filename`` is exactly ``filename`` (``NotFoundError`` if none)."""
        conditions = [{"type": item_type}, {"filename": filename}]
        found = [one async for one in self._iter_query(
            dataset_id, "items", conditions, f"get {filename} in dataset {dataset_id}")]
        if not found:
            raise NotFoundError(f"no item {filename} in dataset {dataset_id}")
        if len(found) > 1:
            raise ProtocolError(f"{len(found)} items have filename {filename} in dataset "
                                f"{dataset_id}; expected one")
        return cast(ItemJson, found[0])

    # -- item writes -------------------------------------------------------------------------

    async def upload(self, dataset_id: str, local_path: Path, filename: str, *,
                     mode: UploadMode = "skip",
                     metadata: dict[str, Any] | None = None) -> UploadResult:
        """Upload ``local_path`` as item ``filename``, streamed from disk.

        ``metadata`` is sent as the ``metadata`` form part (``{"user": {...}}``). Raises
        ``IntegrityError`` when the reply's ``metadata.system.size`` differs from the bytes sent.
        """
        what = f"upload {local_path} as {filename!r} to dataset {dataset_id}"
        if any(ord(c) < 32 or ord(c) == 127 for c in filename):  # cannot go in a form header
            raise BadRequestError(f"{what}: the name contains a control character, which item "
                                  "names cannot hold; rename the file to sync it",
                                  method="POST", url=f"/datasets/{dataset_id}/items")
        body = _FileBody(local_path, filename, metadata)
        reply, req = await self._call("POST", f"/datasets/{dataset_id}/items", what,
                                      params={"mode": mode}, body=body.open)
        item = cast(ItemJson, replies.entity(reply.body, req))
        op = UploadOp.from_header(reply.headers.get("x-item-op"))
        size = (item.get("metadata") or {}).get("system", {}).get("size")
        if size != body.size:
            raise IntegrityError(f"{what}: sent {body.size} bytes but the remote item "
                                 f"{item['id']} ({op}) has size {size}", method="POST",
                                 url=req.path)
        return UploadResult(item=item, op=op, size=body.size)

    async def patch_item(self, item_id: str, diff: dict[str, Any], *,
                         system: bool = False) -> ItemJson:
        """Apply a metadata diff to an item (removed keys as ``None``); return the new item."""
        params = {"system": "true"} if system else None
        reply, req = await self._call("PATCH", f"/items/{item_id}", f"item {item_id}",
                                      params=params, json=diff)
        return cast(ItemJson, replies.entity(reply.body, req))

    async def move_item(self, item_id: str, filename: str) -> ItemJson:
        """Move (rename) an item to ``filename``; its id and annotations stay."""
        return await self.patch_item(item_id, {"filename": filename}, system=True)

    async def make_dir(self, dataset_id: str, folder: str) -> ItemJson:
        """The folder item ``folder`` of a dataset, created when missing."""
        try:
            return await self.get_item_by_path(dataset_id, folder, item_type="dir")
        except NotFoundError:
            pass
        try:
            reply, req = await self._call("POST", f"/datasets/{dataset_id}/items",
                                          f"create folder {folder}", UNSAFE,
                                          body=_form({"type": "dir", "path": folder}))
        except (AmbiguousWriteError, ServerError):
            return await self.get_item_by_path(dataset_id, folder, item_type="dir")
        return cast(ItemJson, replies.entity(reply.body, req))

    async def move_items(self, dataset_id: str, item_ids: Sequence[str], folder: str) -> None:
        """Move many items into ``folder`` (found or created first) in one request."""
        target = await self.make_dir(dataset_id, folder)
        await self._call("PUT", f"/datasets/{dataset_id}/items/{target['id']}",
                         f"move {len(item_ids)} items to {folder}", json=list(item_ids))

    async def delete_item(self, item_id: str) -> None:
        """Delete one item."""
        await self._call("DELETE", f"/items/{item_id}", f"item {item_id}")

    async def delete_items(self, dataset_id: str, filters: Sequence[dql.Condition], *,
                           defaults: bool = True) -> Any:
        """Delete every item matching ``filters``; return the remote's reply."""
        body = dql.delete_query("items", dql.item_conditions(filters, defaults=defaults))
        reply, _ = await self._call("POST", f"/datasets/{dataset_id}/query",
                                    f"delete items of dataset {dataset_id}", json=body)
        return reply.body

    async def download(self, item_id: str, *, offset: int = 0) -> AsyncIterator[bytes]:
        """The item's bytes from ``offset``, in chunks; a broken stream resumes with Range."""
        have, resumes = offset, 0
        while True:
            req = Request("GET", f"/items/{item_id}/stream", f"download item {item_id}", SAFE,
                          headers={"x-dl-sanitize": "0", "Range": f"bytes={have}-"})
            response = await self._session.open_stream(req)
            skip = have if response.status == 200 else 0  # the remote ignored Range
            try:
                async for chunk in self._session.iter_body(response, constants.UPLOAD_CHUNK,
                                                           req):
                    chunk, skip = chunk[skip:], max(0, skip - len(chunk))
                    have += len(chunk)
                    if chunk:
                        yield chunk
                return
            except TransportError as exc:
                resumes += 1
                if resumes > constants.DOWNLOAD_RESUME_ATTEMPTS:
                    raise
                log.warning("download interrupted, will resume", item=item_id, offset=have,
                            error=str(exc))

    # -- annotations -------------------------------------------------------------------------

    async def iter_annotations(self, dataset_id: str,
                               item_id: str) -> AsyncIterator[AnnotationJson]:
        """Every annotation of one item (all types but ``note``), in id order."""
        async for one in self._iter_query(dataset_id, "annotations",
                                          dql.annotation_conditions(item_id),
                                          f"list annotations of item {item_id}"):
            yield cast(AnnotationJson, one)

    async def iter_annotations_where(self, dataset_id: str,
                                     conditions: Sequence[dql.Condition],
                                     ) -> AsyncIterator[AnnotationJson]:
        """Annotations of a dataset (all types but ``note``) matching ``conditions``, by id."""
        full = [dql.annotation_types(), *conditions]
        async for one in self._iter_query(dataset_id, "annotations", full,
                                          f"list annotations of dataset {dataset_id}"):
            yield cast(AnnotationJson, one)

    async def latest_update(self, dataset_id: str, resource: str,
                            conditions: Sequence[dql.Condition]) -> str | None:
        """The latest ``updatedAt`` among the ``resource`` rows matching ``conditions``."""
        body = dql.latest_query(resource, conditions)
        reply, req = await self._call("POST", f"/datasets/{dataset_id}/query",
                                      f"latest {resource} update in dataset {dataset_id}",
                                      json=body, headers={"user_query": "true"})
        found = replies.page(reply.body, req)["items"]
        stamp = found[0].get("updatedAt") if found else None
        return stamp if isinstance(stamp, str) else None

    async def post_annotations(self, item_id: str,
                               annotations: Sequence[AnnotationJson]) -> list[AnnotationJson]:
        """Post annotations in batches of 100; never re-sent after an ambiguous failure.

        Raises ``AmbiguousWriteError`` (or ``ServerError``) when a batch may have been applied;
        ``post_annotations_exactly_once`` recovers from that.
        """
        created: list[AnnotationJson] = []
        for start in range(0, len(annotations), constants.ANNOTATION_BATCH):
            batch = list(annotations[start:start + constants.ANNOTATION_BATCH])
            reply, req = await self._call("POST", f"/items/{item_id}/annotations",
                                          f"{len(batch)} annotations of item {item_id}",
                                          UNSAFE, json=batch)
            created.extend(cast(list[AnnotationJson], replies.entities(reply.body, req)))
        return created

    async def post_annotations_exactly_once(
            self, dataset_id: str, item_id: str, annotations: Sequence[AnnotationJson], *,
            key: str | None = None) -> list[AnnotationJson]:
        """Post ``annotations`` so that each lands exactly once, even across ambiguous failures.

        Each is stamped ``metadata.user.dlsync = {"hash", "op": key}`` (``key`` defaults to a
        fresh UUID). After an ambiguous failure the item's annotations are listed and only the
        stamped ones not yet there are posted. Returns the remote annotations of this post.
        """
        op = key or uuid.uuid4().hex
        wanted = [stamps.stamp(one, op) for one in annotations]
        pending = wanted
        for attempt in range(1, self.settings.max_attempts + 1):
            try:
                created = await self.post_annotations(item_id, pending)
                break
            except (AmbiguousWriteError, ServerError) as exc:
                if attempt == self.settings.max_attempts:
                    raise
                log.warning("annotation post may have been applied; listing before re-posting",
                            item=item_id, error=str(exc), attempt=attempt)
                pending = stamps.missing(wanted, await self._stamped(dataset_id, item_id, op))
        if attempt == 1:
            # nothing was ambiguous: the reply names every annotation this post created
            return [one for one in created if (stamps.stamp_key(one) or ("", ""))[1] == op]
        return await self._stamped(dataset_id, item_id, op)

    async def _stamped(self, dataset_id: str, item_id: str, op: str) -> list[AnnotationJson]:
        """The item's annotations stamped with operation key ``op``."""
        return [one async for one in self.iter_annotations(dataset_id, item_id)
                if (stamps.stamp_key(one) or ("", ""))[1] == op]

    async def delete_annotation(self, annotation_id: str) -> None:
        """Delete one annotation (the body names the user, as dtlpy sends it)."""
        await self._call("DELETE", f"/annotations/{annotation_id}",
                         f"annotation {annotation_id}",
                         json={"username": self.credentials.email or ""})

    async def delete_annotations(self, dataset_id: str, annotation_ids: Sequence[str]) -> None:
        """Delete many annotations by id in one query."""
        if not annotation_ids:
            return
        body = dql.delete_query("annotations",
                                [{"annotationId": {"$in": list(annotation_ids)}}])
        await self._call("POST", f"/datasets/{dataset_id}/query",
                         f"delete {len(annotation_ids)} annotations", json=body)


def _form(fields: dict[str, str]) -> Any:
    """A body factory for a form-urlencoded body."""

    @asynccontextmanager
    async def body() -> AsyncIterator[Any]:
        yield dict(fields)

    return body


class _FileBody:
    """The multipart body of one upload (type, path, metadata, file), streamed from disk.

    Re-opened for each attempt; ``size`` is the byte count sent by the last attempt.
    """

    def __init__(self, path: Path, filename: str, metadata: dict[str, Any] | None) -> None:
        self.path = path
        self.filename = filename
        self.metadata = metadata
        self.size = -1

    @asynccontextmanager
    async def open(self) -> AsyncIterator[aiohttp.FormData]:
        """Yield the form for one attempt; a streamed file is closed afterwards."""
        content, self.size = _file_content(self.path)
        try:
            form = aiohttp.FormData()
            form.add_field("type", "file")
            form.add_field("path", self.filename)
            if self.metadata is not None:
                form.add_field("metadata", json.dumps(self.metadata))
            name = posixpath.basename(self.filename)
            form.add_field("file", content, filename=name,
                           content_type=mimetypes.guess_type(name)[0]
                           or "application/octet-stream")
            yield form
        finally:
            if not isinstance(content, bytes):
                content.close()


def _file_content(path: Path) -> tuple[bytes | BinaryIO, int]:
    """What to send for ``path`` and its size: the bytes of a small file, else the open file.

    Files up to ``SMALL_FILE_BYTES`` are read in one call on the event loop (cheaper than a
    thread hand-off); larger ones are streamed by aiohttp, which reads them in a worker thread.
    """
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise LocalFileError(str(path), f"cannot be read for upload: {exc.strerror}") from None
    size = os.fstat(handle.fileno()).st_size
    if size > constants.SMALL_FILE_BYTES:
        return handle, size
    with handle:
        data = handle.read(constants.SMALL_FILE_BYTES + 1)
    return data, len(data)
