"""Items on the gate: upload modes, folders, directoryTree, moves, stream ranges, deletes."""

from __future__ import annotations

from typing import Any

from tests.gate.conftest import GateApi


async def test_upload_creates_then_skips_then_overwrites_keeping_id(
    api: GateApi, dataset_id: str
) -> None:
    """created → skip (existing item, unchanged) → overwrite (same id, new size)."""
    status, op, first = await api.upload(dataset_id, "/a/b.jpg", b"12345",
                                         metadata={"user": {"batch": 1}})
    assert (status, op) == (200, "created")
    assert first["metadata"]["system"]["size"] == 5
    assert first["metadata"]["user"] == {"batch": 1}
    assert first["dir"] == "/a" and first["name"] == "b.jpg" and first["filename"] == "/a/b.jpg"
    assert isinstance(first["stream"], str) and len(first["id"]) == 24
    status, op, skipped = await api.upload(dataset_id, "/a/b.jpg", b"other content")
    assert (status, op) == (200, "skip")
    assert skipped["id"] == first["id"] and skipped["metadata"]["system"]["size"] == 5
    status, op, replaced = await api.upload(dataset_id, "/a/b.jpg", b"xyz", mode="overwrite")
    assert (status, op) == (200, "overwrite")
    assert replaced["id"] == first["id"] and replaced["metadata"]["system"]["size"] == 3


async def test_root_items_have_dir_slash(api: GateApi, dataset_id: str) -> None:
    """An item uploaded at the root has dir '/'."""
    _, _, item = await api.upload(dataset_id, "/top.txt")
    assert item["dir"] == "/"


async def test_folders_are_created_implicitly_and_form_the_directory_tree(
    api: GateApi, dataset_id: str
) -> None:
    """Uploading /x/y/z.png creates /x and /x/y; directoryTree nests them under /."""
    await api.upload(dataset_id, "/x/y/z.png")
    folder = await api.ok("POST", f"/datasets/{dataset_id}/items",
                          data={"type": "dir", "path": "/empty"})
    assert folder["type"] == "dir" and folder["filename"] == "/empty"
    tree = await api.ok("GET", f"/datasets/{dataset_id}/directoryTree")
    assert tree["value"]["filename"] == "/"

    def paths(node: dict[str, Any]) -> list[str]:
        return [node["value"]["filename"]] + [p for c in node["children"] for p in paths(c)]

    assert sorted(paths(tree)) == ["/", "/empty", "/x", "/x/y"]
    assert [c["value"]["filename"] for c in tree["children"][1]["children"]] == ["/x/y"]


async def test_patch_filename_moves_item_and_keeps_id(api: GateApi, dataset_id: str) -> None:
    """PATCH ?system=true with a new filename moves the item, creates the folder, keeps the id."""
    _, _, item = await api.upload(dataset_id, "/old/a.jpg")
    moved = await api.ok("PATCH", f"/items/{item['id']}?system=true",
                         json={"filename": "/new/deep/a.jpg"})
    assert moved["id"] == item["id"]
    assert (moved["dir"], moved["name"]) == ("/new/deep", "a.jpg")
    folders = await api.list_all(dataset_id, [{"type": "dir"}])
    assert "/new/deep" in {f["filename"] for f in folders}


async def test_patch_merges_metadata_and_ignores_unknown_nulls(
    api: GateApi, dataset_id: str
) -> None:
    """A DictDiffer diff merges nested dicts, null removes a key, unknown nulls are ignored."""
    _, _, item = await api.upload(dataset_id, "/m.jpg", metadata={"user": {"a": 1, "b": 2}})
    patched = await api.ok("PATCH", f"/items/{item['id']}", json={
        "metadata": {"user": {"b": None, "c": 3}, "system": {"size": 999}},
        "annotations": None, "updatedBy": None, "nonexistent": None})
    assert patched["metadata"]["user"] == {"a": 1, "c": 3}
    assert patched["metadata"]["system"]["size"] == item["metadata"]["system"]["size"]
    assert isinstance(patched["annotations"], str)


async def test_bulk_move_into_folder_keeps_ids(api: GateApi, dataset_id: str) -> None:
    """PUT /datasets/{id}/items/{folderId} with item ids moves them into the folder."""
    ids = [(await api.upload(dataset_id, f"/src/{n}.jpg"))[2]["id"] for n in "ab"]
    folder = await api.ok("POST", f"/datasets/{dataset_id}/items",
                          data={"type": "dir", "path": "/dst"})
    moved = await api.ok("PUT", f"/datasets/{dataset_id}/items/{folder['id']}", json=ids)
    assert [m["id"] for m in moved] == ids
    assert {m["filename"] for m in moved} == {"/dst/a.jpg", "/dst/b.jpg"}


async def test_stream_honours_range(api: GateApi, dataset_id: str) -> None:
    """GET /items/{id}/stream returns all bytes, and from offset N with Range: bytes=N-."""
    _, _, item = await api.upload(dataset_id, "/s.bin", b"0123456789")
    async with api.session.get(f"{api.url}/items/{item['id']}/stream") as response:
        assert response.status == 200 and await response.read() == b"0123456789"
    async with api.session.get(f"{api.url}/items/{item['id']}/stream",
                               headers={"Range": "bytes=4-"}) as response:
        assert response.status == 206 and await response.read() == b"456789"


async def test_delete_by_query_and_by_id(api: GateApi, dataset_id: str) -> None:
    """delete:true removes only matching items; DELETE /items/{id} removes one and 404s after."""
    for path in ("/keep/a.jpg", "/drop/b.jpg", "/drop/c.jpg"):
        await api.upload(dataset_id, path)
    answer = await api.query(dataset_id, {"filter": {"$and": [{"type": "file"},
                                                              {"dir": "/drop"}]},
                                          "resource": "items", "delete": True})
    assert answer["deleted"] == 2
    left = await api.list_all(dataset_id, [{"type": "file"}])
    assert [i["filename"] for i in left] == ["/keep/a.jpg"]
    await api.ok("DELETE", f"/items/{left[0]['id']}")
    status, body = await api.call("GET", f"/items/{left[0]['id']}")
    assert status == 404 and left[0]["id"] in body["message"]


async def test_annotations_lifecycle(api: GateApi, dataset_id: str) -> None:
    """Annotations are created with server fields, listed by item, updated by diff, deleted."""
    _, _, item = await api.upload(dataset_id, "/ann.jpg")
    created = await api.ok("POST", f"/items/{item['id']}/annotations", json=[
        {"type": "box", "label": "cat", "coordinates": [{"x": 1, "y": 2}, {"x": 3, "y": 4}],
         "id": None, "creator": None},
        {"type": "class", "label": "indoor"}])
    for annotation in created:
        for key in ("id", "creator", "createdAt", "updatedBy", "updatedAt", "metadata"):
            assert annotation[key] is not None, key
    listed = await api.list_all(dataset_id, [{"itemId": item["id"]},
                                             {"type": {"$in": ["box", "class"]}}],
                                resource="annotations")
    assert [a["id"] for a in listed] == [a["id"] for a in created]
    assert (await api.ok("GET", f"/items/{item['id']}"))["annotationsCount"] == 2
    updated = await api.ok("PUT", f"/annotations/{created[0]['id']}", json={"label": "dog"})
    assert updated["label"] == "dog" and updated["type"] == "box"
    await api.ok("DELETE", f"/annotations/{created[0]['id']}",
                 json={"username": "tester@dlsync.test"})
    answer = await api.query(dataset_id, {"filter": {"$and": [{"itemId": item["id"]}]},
                                          "resource": "annotations", "delete": True})
    assert answer["deleted"] == 1
    after = await api.ok("GET", f"/items/{item['id']}")
    assert after["annotationsCount"] == 0 and after["annotated"] is False


async def test_projects_and_datasets_lookups(api: GateApi) -> None:
    """Projects by name answer an array; datasets query by project and name finds one."""
    dataset_id = await api.new_dataset("lookup")
    named = await api.ok("GET", "/projects/project-lookup/name")
    assert len(named) == 1
    page = await api.ok("POST", "/datasets/query", json={
        "filter": {"$and": [{"name": "lookup"}]}, "page": 0, "pageSize": 1000,
        "resource": "datasets", "context": {"projects": [named[0]["id"]]}})
    assert [d["id"] for d in page["items"]] == [dataset_id] and page["hasNextPage"] is False
    await api.upload(dataset_id, "/one.jpg")
    assert (await api.ok("GET", f"/datasets/{dataset_id}"))["itemsCount"] == 1
    await api.ok("DELETE", f"/datasets/{dataset_id}")
    assert (await api.call("GET", f"/datasets/{dataset_id}"))[0] == 404


async def test_datasets_query_total_follows_creates_renames_and_deletes(api: GateApi) -> None:
    """The total of a datasets query counts datasets created, renamed or deleted since it ran."""
    project = await api.ok("POST", "/projects", data={"name": "project-totals"})
    body = {"filter": {}, "page": 0, "pageSize": 1000, "resource": "datasets",
            "context": {"projects": [project["id"]]}}

    async def total() -> int:
        return int((await api.ok("POST", "/datasets/query", json=body))["totalItemsCount"])

    first = await api.ok("POST", "/datasets", json={"name": "a", "projects": [project["id"]]})
    assert await total() == 1
    await api.ok("POST", "/datasets", json={"name": "b", "projects": [project["id"]]})
    assert await total() == 2
    body["filter"] = {"$and": [{"name": "a"}]}
    assert await total() == 1
    await api.ok("PATCH", f"/datasets/{first['id']}", json={"name": "c"})
    assert await total() == 0
    await api.ok("DELETE", f"/datasets/{first['id']}")
    body["filter"] = {}
    assert await total() == 1


async def test_unknown_project_name_is_404(api: GateApi) -> None:
    """GET /projects/{name}/name for a name nobody uses answers 404, not an empty array."""
    status, body = await api.call("GET", "/projects/nobody-made-this/name")
    assert status == 404 and "nobody-made-this" in body["message"]


async def test_dataset_rename_and_metadata_merge(api: GateApi, dataset_id: str) -> None:
    """PATCH /datasets/{id} renames and merges metadata; read-only keys are ignored."""
    updated = await api.ok("PATCH", f"/datasets/{dataset_id}", json={
        "name": "renamed", "metadata": {"owner": "team"}, "itemsCount": 99, "id": "x"})
    assert updated["name"] == "renamed" and updated["metadata"]["owner"] == "team"
    assert set(updated["metadata"]) == {"owner", "system"}  # system: the default recipe
    assert updated["id"] == dataset_id and updated["itemsCount"] == 0
    project = updated["projects"][0]
    other = await api.ok("POST", "/datasets", json={"name": "other", "projects": [project]})
    status, body = await api.call("PATCH", f"/datasets/{other['id']}", json={"name": "renamed"})
    assert status == 409 and "renamed" in body["message"]


async def test_join_narrows_items_to_those_with_matching_annotations(
    api: GateApi, dataset_id: str
) -> None:
    """An items query joined to annotations returns only items with a matching annotation."""
    items = [(await api.upload(dataset_id, f"/j/{n}.jpg"))[2] for n in range(3)]
    for item, label in zip(items, ["dog", "cat", "dog"], strict=True):
        await api.ok("POST", f"/items/{item['id']}/annotations",
                     json=[{"type": "box", "label": label}])
    join = {"on": {"resource": "annotations", "local": "itemId", "forigen": "id"},
            "filter": {"$and": [{"label": "dog"}]}}
    page = await api.query(dataset_id, {"filter": {"$and": [{"type": "file"}]},
                                        "join": join, "resource": "items"})
    assert [i["id"] for i in page["items"]] == [items[0]["id"], items[2]["id"]]
    assert page["totalItemsCount"] == 2
    bad = {**join, "on": {"resource": "tasks"}}
    status, body = await api.call("POST", f"/datasets/{dataset_id}/query",
                                  json={"filter": {}, "join": bad, "resource": "items"})
    assert status == 400 and "join" in body["message"]


async def test_folder_move_and_delete_cover_exactly_its_subtree(
    api: GateApi, dataset_id: str
) -> None:
    """Moving /a moves /a/** (not /ab); deleting the moved folder removes only its subtree."""
    for path in ("/a/1.jpg", "/a/sub/2.jpg", "/ab/3.jpg"):
        await api.upload(dataset_id, path)
    folder = (await api.list_all(dataset_id, [{"type": "dir"}, {"filename": "/a"}]))[0]
    await api.ok("PATCH", f"/items/{folder['id']}?system=true", json={"filename": "/z"})
    files = {i["filename"]: i for i in await api.list_all(dataset_id, [{"type": "file"}])}
    assert sorted(files) == ["/ab/3.jpg", "/z/1.jpg", "/z/sub/2.jpg"]
    assert files["/z/sub/2.jpg"]["dir"] == "/z/sub"
    await api.ok("DELETE", f"/items/{folder['id']}")
    left = [i["filename"] for i in await api.list_all(dataset_id, [{"type": "file"}])]
    assert left == ["/ab/3.jpg"]
