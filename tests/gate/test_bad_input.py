"""Bad input gets a 4xx naming what is wrong, and changes nothing."""

from __future__ import annotations

import aiohttp
import pytest

from tests.gate.conftest import GateApi

UNKNOWN = "ffffffffffffffffffffffff"


@pytest.mark.parametrize("path", [
    "relative/a.jpg", "/a/../b.jpg", "/a/\x00b.jpg", "/a/b\n.jpg", "/a//b.jpg", "/", "",
    "/folder/",
], ids=["relative", "dotdot", "nul", "newline", "empty-segment", "root", "empty", "empty-name"])
async def test_bad_upload_paths_are_refused_and_nothing_is_stored(
    api: GateApi, dataset_id: str, path: str
) -> None:
    """An upload path that is not a clean absolute file path gets 400 and stores no item."""
    status, _, body = await api.upload(dataset_id, path)
    assert status in (400, 409) and body["message"]
    files = await api.list_all(dataset_id, [{"type": "file"}])
    assert files == []


async def test_upload_without_file_part_is_refused(api: GateApi, dataset_id: str) -> None:
    """A multipart upload with no 'file' part gets 400 naming the missing part."""
    form = aiohttp.FormData()
    form.add_field("type", "file")
    form.add_field("path", "/nofile.jpg")
    form.add_field("dummy", b"x", filename="x.bin")
    status, body = await api.call("POST", f"/datasets/{dataset_id}/items", data=form)
    assert status == 400 and "'file' part" in body["message"]


async def test_malformed_json_is_refused(api: GateApi, dataset_id: str) -> None:
    """A body that is not JSON gets 400 saying so."""
    status, body = await api.call("POST", f"/datasets/{dataset_id}/query", data=b"{not json",
                                  headers={"Content-Type": "application/json"})
    assert status == 400 and "malformed JSON" in body["message"]


@pytest.mark.parametrize("body", [{"type": "box"}, "text", [1, 2], [{"label": "no type"}]],
                         ids=["object-without-list-is-ok-but-typed", "string", "numbers",
                              "missing-type"])
async def test_annotation_bodies_must_be_lists_of_typed_objects(
    api: GateApi, dataset_id: str, body: object
) -> None:
    """Annotation uploads that are not lists of objects with a type are refused; none stored."""
    _, _, item = await api.upload(dataset_id, "/a.jpg")
    status, answer = await api.call("POST", f"/items/{item['id']}/annotations", json=body)
    if isinstance(body, dict):
        assert status == 200
        return
    assert status == 400 and answer["message"]
    assert (await api.ok("GET", f"/items/{item['id']}"))["annotationsCount"] == 0


@pytest.mark.parametrize("path", [
    f"/projects/{UNKNOWN}", f"/datasets/{UNKNOWN}", f"/items/{UNKNOWN}",
    f"/annotations/{UNKNOWN}", f"/items/{UNKNOWN}/stream",
])
async def test_unknown_entities_are_404_with_their_id(api: GateApi, path: str) -> None:
    """Unknown projects, datasets, items and annotations answer 404 naming the id."""
    status, body = await api.call("GET", path)
    assert status == 404 and UNKNOWN in body["message"] and body["status"] == 404


async def test_upload_to_unknown_dataset_is_404(api: GateApi) -> None:
    """Uploading into a dataset that does not exist answers 404."""
    status, _, body = await api.upload(UNKNOWN, "/a.jpg")
    assert status == 404 and UNKNOWN in body["message"]


async def test_bad_names_and_modes_are_refused(api: GateApi, dataset_id: str) -> None:
    """Empty or control-character names and unknown upload modes get 400."""
    assert (await api.call("POST", "/projects", data={"name": ""}))[0] == 400
    assert (await api.call("POST", "/projects", data={"name": "a\nb"}))[0] == 400
    status, _, body = await api.upload(dataset_id, "/a.jpg", mode="merge")
    assert status == 400 and "merge" in body["message"]


async def test_patch_to_bad_filename_changes_nothing(api: GateApi, dataset_id: str) -> None:
    """A PATCH moving an item to a path with '..' is refused and the item stays put."""
    _, _, item = await api.upload(dataset_id, "/stay.jpg")
    status, body = await api.call("PATCH", f"/items/{item['id']}?system=true",
                                  json={"filename": "/../escape.jpg",
                                        "metadata": {"user": {"x": 1}}})
    assert status == 400 and "'..'" in body["message"]
    after = await api.ok("GET", f"/items/{item['id']}")
    assert after["filename"] == "/stay.jpg" and "user" not in after["metadata"]
