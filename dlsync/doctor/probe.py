"""``dlsync doctor --probe``: check the gate's guesses (docs/gate.md) against the live platform.

The probe creates a scratch dataset ``dlsync-probe-<UTC stamp>`` in the given project (which must
exist: the probe never creates projects), runs one check per guess in it, and always deletes it
again. Every guess is a row keyed by its ``GateBehaviour`` switch; ``seen`` is what the platform
did, so a differing row says which way the gate must change.

    row (= gate switch)            what the probe does
    skip_op_header                 upload a file, upload it again with mode=skip, read x-item-op
    overwrite_keeps_id             upload, annotate, upload with mode=overwrite, compare
    upload_applies_metadata        upload and overwrite with a metadata form field, read it back
    annotation_delete_moves_item   annotate, read updatedAt, delete the annotation, read again
    sort_by_updated_at             upload a, b, c, touch b, list by updatedAt descending
    annotation_batch_limit         post 100 annotations in one request, then 101
    refs_move_updated_at           make a task over one item, set a status, compare updatedAt
    exif_displayed_frame           upload a 4x2 JPEG with EXIF orientation 6, read its width and
                                   height (2x4: the displayed frame, where YOLO/COCO/VOC put
                                   their coordinates; 4x2: the stored frame)
"""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio

from dlsync import constants, logs
from dlsync.doctor.client import DoctorClient, ProbeFile, TaskRequest
from dlsync.doctor.rows import Report, Row, Verdict
from dlsync.errors import AuthError, BadRequestError, DlsyncError
from dlsync.remote.types import AnnotationJson, DatasetJson, ItemJson

_log = logs.get_logger(__name__)
BATCH = constants.ANNOTATION_BATCH


@dataclass(frozen=True, slots=True)
class ProbeContext:
    """What every probe works in: the client, the scratch dataset, and who runs it."""

    client: DoctorClient
    project_id: str
    dataset: DatasetJson
    user: str | None
    tick: float = constants.DOCTOR_TICK_S

    @property
    def dataset_id(self) -> str:
        """The scratch dataset's id."""
        return self.dataset["id"]

    async def upload(self, filename: str, metadata: dict[str, Any] | None = None,
                     mode: str = "skip") -> tuple[ItemJson, str | None]:
        """Upload a few bytes as ``filename``; (item, raw x-item-op)."""
        data = f"dlsync probe {filename} {time.time()}\n".encode()
        done = await self.client.upload_bytes(self.dataset_id, ProbeFile(filename, data, metadata),
                                              "overwrite" if mode == "overwrite" else "skip")
        return done.item, done.op

    async def updated_at(self, item_id: str) -> str:
        """The item's ``updatedAt`` as the platform reports it now."""
        return str((await self.client.get_item(item_id)).get("updatedAt"))


def _labels(count: int) -> list[AnnotationJson]:
    return [{"type": "class", "label": "dlsync-probe", "metadata": {"user": {"n": n}}}
            for n in range(count)]


async def skip_op_header(ctx: ProbeContext) -> str:
    """Seen: the header of a skipped upload, and whether it answered the existing item."""
    first, _ = await ctx.upload("/skip/a.txt")
    again, op = await ctx.upload("/skip/a.txt")
    return f"{op or 'no header'}, {'same' if again['id'] == first['id'] else 'another'} item id"


async def overwrite_keeps_id(ctx: ProbeContext) -> str:
    """Seen: the op of an overwrite, whether the id stayed, how many annotations stayed."""
    first, _ = await ctx.upload("/overwrite/a.txt")
    await ctx.client.post_annotation_batch(first["id"], _labels(1))
    again, op = await ctx.upload("/overwrite/a.txt", mode="overwrite")
    kept = [a async for a in ctx.client.iter_annotations(ctx.dataset_id, again["id"])]
    same = "same" if again["id"] == first["id"] else "another"
    return f"{op or 'no header'}, {same} item id, {len(kept)} of 1 kept"


async def upload_applies_metadata(ctx: ProbeContext) -> str:
    """Seen: whether the metadata form field reached the item on create and on overwrite."""
    def stored(item: ItemJson, step: str) -> str:
        found = (item.get("metadata") or {}).get("user", {}).get("dlsyncProbe")
        return f"{'stored' if found == {'step': step} else 'not stored'} on {step}"

    made, _ = await ctx.upload("/metadata/a.txt", {"user": {"dlsyncProbe": {"step": "create"}}})
    created = await ctx.client.get_item(made["id"])
    await ctx.upload("/metadata/a.txt", {"user": {"dlsyncProbe": {"step": "overwrite"}}},
                     mode="overwrite")
    overwritten = await ctx.client.get_item_by_path(ctx.dataset_id, "/metadata/a.txt")
    return f"{stored(created, 'create')}, {stored(overwritten, 'overwrite')}"


async def annotation_delete_moves_item(ctx: ProbeContext) -> str:
    """Seen: the item's updatedAt before and after one of its annotations is deleted."""
    item, _ = await ctx.upload("/annotation-delete/a.txt")
    made = await ctx.client.post_annotation_batch(item["id"], _labels(1))
    before = await ctx.updated_at(item["id"])
    await anyio.sleep(ctx.tick)
    await ctx.client.delete_annotations(ctx.dataset_id, [str(made[0]["id"])])
    return _moved(before, await ctx.updated_at(item["id"]))


def _moved(before: str, after: str) -> str:
    return f"updatedAt moves ({before} -> {after})" if after > before else \
        f"updatedAt stays ({before})"


async def sort_by_updated_at(ctx: ProbeContext) -> str:
    """Seen: the order of a, b, c listed by updatedAt descending after b was touched."""
    ids = {}
    for name in ("a", "b", "c"):
        item, _ = await ctx.upload(f"/sort/{name}.txt")
        ids[item["id"]] = name
    await anyio.sleep(ctx.tick)
    touched = next(i for i, n in ids.items() if n == "b")
    await ctx.client.patch_item(touched, {"metadata": {"user": {"dlsyncProbe": "touched"}}})
    body = {"filter": {"$and": [{"hidden": False}, {"type": "file"}, {"dir": "/sort"}]},
            "sort": {"updatedAt": "descending"}, "page": 0, "pageSize": 10,
            "resource": "items"}
    found = await ctx.client.query_items(ctx.dataset_id, body)
    order = [ids.get(item["id"], "?") for item in found]
    return f"{'b first' if order[:1] == ['b'] else 'b not first'}: {', '.join(order)}"


async def annotation_batch_limit(ctx: ProbeContext) -> str:
    """Seen: what one request of BATCH annotations, then one of BATCH + 1, got."""
    item, _ = await ctx.upload("/batch/a.txt")
    answers = []
    for count in (BATCH, BATCH + 1):
        try:
            made = await ctx.client.post_annotation_batch(item["id"], _labels(count))
        except BadRequestError as exc:
            answers.append(f"{count} refused (HTTP {exc.status})")
        else:
            answers.append(f"{count} accepted" if len(made) == count else
                           f"{count} sent, {len(made)} created")
    return ", ".join(answers)


async def refs_move_updated_at(ctx: ProbeContext) -> str:
    """Seen: the item's updatedAt before and after it gets a status in a one-item task."""
    if ctx.user is None:
        raise _Unchecked("no e-mail address for the caller to assign the task to")
    dataset: dict[str, Any] = dict(ctx.dataset)
    recipes = (dataset.get("metadata") or {}).get("system", {}).get("recipes") or []
    if not recipes:
        raise _Unchecked("the scratch dataset has no recipe to base a task on")
    item, _ = await ctx.upload("/status/a.txt")
    query = {"filter": {"$and": [{"hidden": False}, {"type": "file"},
                                 {"filename": "/status/a.txt"}]}, "resource": "items"}
    task = TaskRequest(f"{ctx.dataset['name']}-task", ctx.dataset_id, ctx.project_id,
                       str(recipes[0]), ctx.user)
    task_id = await ctx.client.create_probe_task(task, query)
    try:
        before = await ctx.updated_at(item["id"])
        await anyio.sleep(ctx.tick)
        await ctx.client.set_status(task_id, item["id"], "completed")
        return _moved(before, await ctx.updated_at(item["id"]))
    finally:
        with anyio.CancelScope(shield=True):
            await ctx.client.delete_task(task_id)


ROTATED_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/4QAiRXhpZgAATU0AKgAAAAgAAQESAAMAAAABAAYAAAAAAAD/2wBDABALDA4M"
    "ChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19iZ2hnPk1xeXBkeFxlZ2P/2wBDARES"
    "EhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2P/wAAR"
    "CAACAAQDASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQA"
    "AAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdI"
    "SUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXG"
    "x8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL"
    "/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcY"
    "GRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOk"
    "paanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwDA"
    "ooorgPrT/9k=")
"""A 4x2 (stored) red JPEG with EXIF orientation 6 (a quarter turn): displayed it is 2x4."""


async def exif_displayed_frame(ctx: ProbeContext) -> str:
    """Seen: the width and height the platform reports for a JPEG stored 4x2 with EXIF
    orientation 6; platforms measure images after the upload, so it waits a little."""
    done = await ctx.client.upload_bytes(
        ctx.dataset_id, ProbeFile("/exif/rotated.jpg", ROTATED_JPEG, None, "image/jpeg"),
        "skip")
    deadline = time.monotonic() + constants.DOCTOR_MEASURE_WAIT_S
    while True:
        system = ((await ctx.client.get_item(done.item["id"])).get("metadata") or {}).get(
            "system") or {}
        width, height = system.get("width"), system.get("height")
        if width is not None and height is not None:
            frame = {(2, 4): "displayed frame", (4, 2): "stored frame"}.get(
                (width, height), "neither frame")
            return f"{width}x{height} ({frame})"
        if time.monotonic() > deadline:
            raise _Unchecked("the platform reported no width and height for the image")
        await anyio.sleep(max(ctx.tick, 0.5))


class _Unchecked(Exception):
    """A probe that cannot run here; the message says why."""


Probe = Callable[[ProbeContext], Awaitable[str]]

# key (= GateBehaviour field) -> (assumption, expected seen text, probe)
GUESSES: dict[str, tuple[str, str, Probe]] = {
    "skip_op_header": (
        "mode=skip onto a taken path answers x-item-op skip",
        "skip, same item id", skip_op_header),
    "overwrite_keeps_id": (
        "mode=overwrite keeps the item's id and annotations",
        "overwrite, same item id, 1 of 1 kept", overwrite_keeps_id),
    "upload_applies_metadata": (
        "an upload's metadata form field is stored",
        "stored on create, stored on overwrite", upload_applies_metadata),
    "annotation_delete_moves_item": (
        "deleting an annotation moves its item's updatedAt", "updatedAt moves",
        annotation_delete_moves_item),
    "sort_by_updated_at": (
        "sort by updatedAt descending puts the newest first",
        "b first: b, c, a", sort_by_updated_at),
    "annotation_batch_limit": (
        f"one annotation POST takes at most {BATCH} annotations",
        f"{BATCH} accepted, {BATCH + 1} refused (HTTP 400)", annotation_batch_limit),
    "refs_move_updated_at": (
        "setting an item's task status moves its updatedAt", "updatedAt moves",
        refs_move_updated_at),
    "exif_displayed_frame": (
        "an EXIF-rotated image is measured (and annotated) in its displayed frame",
        "2x4 (displayed frame)", exif_displayed_frame),
}


def _holds(key: str, expected: str, seen: str) -> bool:
    if key in ("annotation_delete_moves_item", "refs_move_updated_at"):
        return seen.startswith(expected)
    if key == "sort_by_updated_at":
        return seen.startswith("b first")
    return seen == expected


async def check_guess(ctx: ProbeContext, key: str) -> Row:
    """The row of one guess; a probe that fails to run is UNCHECKED, with the reason."""
    assumption, expected, probe = GUESSES[key]
    try:
        seen = await probe(ctx)
    except AuthError:
        raise
    except (DlsyncError, _Unchecked) as exc:
        _log.warning("probe could not run; its row is unchecked", row=key, error=str(exc))
        return Row(key, assumption, expected, f"could not check: {exc}", Verdict.UNCHECKED,
                   switch=key)
    verdict = Verdict.HOLDS if _holds(key, expected, seen) else Verdict.DIFFERS
    return Row(key, assumption, expected, seen, verdict, switch=key)


def scratch_name(now: float | None = None) -> str:
    """``dlsync-probe-20260101T120000Z``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    return constants.DOCTOR_PROBE_PREFIX + stamp


@dataclass(frozen=True, slots=True)
class ProbeRequest:
    """Where to probe and how long to wait for timestamps to move."""

    project: str
    project_id: str
    user: str | None
    tick: float = constants.DOCTOR_TICK_S


async def run_probe(client: DoctorClient, request: ProbeRequest, report: Report) -> None:
    """Create the scratch dataset, add one row per guess, delete the dataset (always)."""
    name = scratch_name()
    texts = (f"a dataset can be created in project {request.project!r}", "created")
    try:
        dataset = await client.get_dataset(request.project_id, name, create=True)
    except AuthError:
        raise
    except DlsyncError as exc:
        report.add(Row.judge("create_dataset", (*texts, f"refused: {exc}"), False))
        return
    report.scratch_dataset = name
    report.add(Row.judge("create_dataset", (*texts, f"created {name} ({dataset['id']})"), True))
    ctx = ProbeContext(client, request.project_id, dataset, request.user, request.tick)
    try:
        for key in GUESSES:
            report.add(await check_guess(ctx, key))
    finally:
        with anyio.CancelScope(shield=True):
            report.add(await _delete_scratch(client, dataset))


async def _delete_scratch(client: DoctorClient, dataset: DatasetJson) -> Row:
    texts = ("the scratch dataset is deleted afterwards", "deleted")
    try:
        await client.delete_dataset(dataset["id"])
    except DlsyncError as exc:
        _log.error("the scratch dataset could not be deleted; delete it in the Dataloop web "
                   "app", dataset=dataset.get("name"), id=dataset["id"], error=str(exc))
        return Row.judge("delete_dataset", (*texts, f"NOT deleted ({exc}): delete "
                                            f"{dataset.get('name')} by hand"), False)
    return Row.judge("delete_dataset", (*texts, f"deleted {dataset.get('name')}"), True)
