"""Every client operation against the real gate over loopback."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from dlsync.errors import LocalFileError, NotFoundError
from dlsync.remote import dql
from dlsync.remote.client import DataloopClient
from dlsync.remote.types import AnnotationJson, DatasetJson, ItemJson, ProjectJson, UploadOp
from tests.remote.conftest import unique


def box(label: str, x: float) -> AnnotationJson:
    """A box annotation at ``x``."""
    return {"type": "box", "label": label,
            "coordinates": [{"x": x, "y": 1.0, "z": 0}, {"x": x + 5, "y": 6.0, "z": 0}],
            "metadata": {"system": {"attributes": {}}}}


async def put(client: DataloopClient, dataset: DatasetJson, tmp_path: Path, filename: str,
              data: bytes = b"hello") -> ItemJson:
    """Upload ``data`` as ``filename``; return the item."""
    local = tmp_path / filename.strip("/").replace("/", "_")
    local.write_bytes(data)
    return (await client.upload(dataset["id"], local, filename)).item


async def test_project_get_or_create(client: DataloopClient) -> None:
    """A project is created once and found by name afterwards; a missing one is NotFoundError."""
    name = unique("p")
    with pytest.raises(NotFoundError, match=name):
        await client.get_project(name)
    created = await client.get_project(name, create=True)
    assert created["name"] == name
    assert (await client.get_project(name))["id"] == created["id"]
    assert (await client.get_project(name, create=True))["id"] == created["id"]


async def test_dataset_get_or_create_and_by_id(client: DataloopClient,
                                               project: ProjectJson) -> None:
    """A dataset is created once in its project and found by name and by id."""
    name = unique("d")
    with pytest.raises(NotFoundError, match=name):
        await client.get_dataset(project["id"], name)
    created = await client.get_dataset(project["id"], name, create=True)
    assert (await client.get_dataset(project["id"], name))["id"] == created["id"]
    assert (await client.get_dataset_by_id(created["id"]))["name"] == name


async def test_upload_modes_and_metadata(client: DataloopClient, dataset: DatasetJson,
                                         tmp_path: Path) -> None:
    """skip creates then finds the item; overwrite replaces it; user metadata arrives."""
    local = tmp_path / "a.jpg"
    local.write_bytes(b"\xff\xd8first")
    first = await client.upload(dataset["id"], local, "/up/a.jpg",
                                metadata={"user": {"dlsync": {"sha256": "x"}}})
    assert first.op is UploadOp.CREATED
    assert first.item["filename"] == "/up/a.jpg"
    assert first.size == 7
    again = await client.upload(dataset["id"], local, "/up/a.jpg")
    assert again.op is UploadOp.EXISTING
    assert again.item["id"] == first.item["id"]
    local.write_bytes(b"\xff\xd8second!")
    replaced = await client.upload(dataset["id"], local, "/up/a.jpg", mode="overwrite")
    assert replaced.op is UploadOp.OVERWRITE
    assert replaced.item["metadata"]["system"]["size"] == 9
    fetched = await client.get_item(first.item["id"] if replaced.item["id"] == first.item["id"]
                                    else replaced.item["id"])
    assert fetched["filename"] == "/up/a.jpg"
    assert first.item["metadata"]["user"]["dlsync"] == {"sha256": "x"}


async def test_upload_of_unreadable_file_names_it(client: DataloopClient,
                                                  dataset: DatasetJson, tmp_path: Path) -> None:
    """A local file that cannot be opened is a LocalFileError naming the path."""
    with pytest.raises(LocalFileError, match=r"missing\.bin"):
        await client.upload(dataset["id"], tmp_path / "missing.bin", "/missing.bin")


async def test_get_by_path_listing_filter_and_tree(client: DataloopClient, dataset: DatasetJson,
                                                   tmp_path: Path) -> None:
    """Get by path finds one item; a folder filter lists only its subtree; the tree shows it."""
    for name in ("/a/one.txt", "/a/b/two.txt", "/c/three.txt"):
        await put(client, dataset, tmp_path, name)
    item = await client.get_item_by_path(dataset["id"], "/a/b/two.txt")
    assert item["filename"] == "/a/b/two.txt"
    with pytest.raises(NotFoundError, match=r"/nope\.txt"):
        await client.get_item_by_path(dataset["id"], "/nope.txt")
    under_a = [i["filename"] async for i in client.iter_items(dataset["id"],
                                                               [dql.under_folder("/a")])]
    assert sorted(under_a) == ["/a/b/two.txt", "/a/one.txt"]
    tree = await client.directory_tree(dataset["id"])
    names: list[str] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        names.append(node["value"].get("filename", ""))
        stack.extend(node.get("children", []))
    assert {"/a", "/a/b", "/c"} <= set(names)


async def test_patch_and_moves_keep_item_ids(client: DataloopClient, dataset: DatasetJson,
                                             tmp_path: Path) -> None:
    """A metadata patch lands; a move and a bulk move change filenames but keep ids."""
    one = await put(client, dataset, tmp_path, "/m/one.txt")
    two = await put(client, dataset, tmp_path, "/m/two.txt")
    patched = await client.patch_item(one["id"], {"metadata": {"user": {"k": 1}}})
    assert patched["metadata"]["user"]["k"] == 1
    moved = await client.move_item(one["id"], "/n/uno.txt")
    assert (moved["id"], moved["filename"]) == (one["id"], "/n/uno.txt")
    await client.move_items(dataset["id"], [one["id"], two["id"]], "/dest")
    assert (await client.get_item(one["id"]))["filename"] == "/dest/uno.txt"
    assert (await client.get_item(two["id"]))["filename"] == "/dest/two.txt"


async def test_delete_one_and_by_query(client: DataloopClient, dataset: DatasetJson,
                                       tmp_path: Path) -> None:
    """Deleting by id removes one item; deleting by folder query removes that folder only."""
    gone = await put(client, dataset, tmp_path, "/x/gone.txt")
    await put(client, dataset, tmp_path, "/q/1.txt")
    await put(client, dataset, tmp_path, "/q/2.txt")
    kept = await put(client, dataset, tmp_path, "/k/kept.txt")
    await client.delete_item(gone["id"])
    with pytest.raises(NotFoundError, match=gone["id"]):
        await client.get_item(gone["id"])
    await client.delete_items(dataset["id"], [dql.under_folder("/q")])
    left = [i["id"] async for i in client.iter_items(dataset["id"])]
    assert left == [kept["id"]]


async def test_download_streams_and_resumes_from_offset(client: DataloopClient,
                                                        dataset: DatasetJson,
                                                        tmp_path: Path) -> None:
    """A download returns the bytes uploaded; from an offset, only the rest."""
    data = bytes(range(256)) * 4096  # 1 MiB
    item = await put(client, dataset, tmp_path, "/d/blob.bin", data)
    got = b"".join([c async for c in client.download(item["id"])])
    assert got == data
    tail = b"".join([c async for c in client.download(item["id"], offset=1000)])
    assert tail == data[1000:]


async def test_annotations_post_list_delete(client: DataloopClient, dataset: DatasetJson,
                                            tmp_path: Path) -> None:
    """250 annotations go up in batches, list back in full, and delete singly and in bulk."""
    item = await put(client, dataset, tmp_path, "/ann/img.jpg")
    created = await client.post_annotations(item["id"], [box("cat", i) for i in range(250)])
    assert len(created) == 250
    listed = [a async for a in client.iter_annotations(dataset["id"], item["id"])]
    assert sorted(a["coordinates"][0]["x"] for a in listed) == list(range(250))
    ids = [a["id"] for a in listed]
    await client.delete_annotation(ids[0])
    await client.delete_annotations(dataset["id"], ids[1:200])
    left = [a["id"] async for a in client.iter_annotations(dataset["id"], item["id"])]
    assert sorted(left) == sorted(ids[200:])


@pytest.mark.slow
async def test_keyset_paging_through_2500_items(client: DataloopClient, dataset: DatasetJson,
                                                tmp_path: Path) -> None:
    """2,500 items list in id order, each exactly once, across three keyset pages."""
    src = tmp_path / "tiny.txt"
    src.write_bytes(b"x")
    limit = anyio.Semaphore(32)

    async def one(n: int) -> None:
        async with limit:
            await client.upload(dataset["id"], src, f"/many/{n:05d}.txt")

    async with anyio.create_task_group() as tg:
        for n in range(2500):
            tg.start_soon(one, n)
    before = client.pacer.stats().calls
    ids = [i["id"] async for i in client.iter_items(dataset["id"], [dql.under_folder("/many")])]
    assert len(ids) == 2500
    assert len(set(ids)) == 2500
    assert ids == sorted(ids)
    assert client.pacer.stats().calls - before == 3
