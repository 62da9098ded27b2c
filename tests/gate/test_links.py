"""Link items: an uploaded ``"shebang": "dataloop"`` JSON file gets ``metadata.system.shebang``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.gate.conftest import GateApi


def _envelope(metadata: Any) -> bytes:
    return json.dumps({"type": "link", "shebang": "dataloop", "metadata": metadata}).encode()


LINK = {"dltype": "link",
        "linkInfo": {"type": "url", "ref": "https://example.org/a.jpg", "mimetype": "image/jpeg"}}


async def test_link_file_becomes_a_link_item(api: GateApi, dataset_id: str) -> None:
    """The item keeps the file (type file, JSON mimetype, size of the bytes) and carries the
    envelope's metadata as metadata.system.shebang; listings and GET show it."""
    content = _envelope(LINK)
    status, op, item = await api.upload(dataset_id, "/links/a_link.json", content)
    assert (status, op) == (200, "created")
    system = item["metadata"]["system"]
    assert system["shebang"] == LINK
    assert (system["size"], system["mimetype"]) == (len(content), "application/json")
    assert item["type"] == "file" and item["name"] == "a_link.json"
    assert (await api.ok("GET", f"/items/{item['id']}"))["metadata"]["system"]["shebang"] == LINK
    listed = await api.list_all(dataset_id, [{"hidden": False}, {"type": "file"},
                                             {"metadata.system.shebang.dltype": "link"}])
    assert [i["id"] for i in listed] == [item["id"]]


async def test_overwrite_with_plain_content_drops_the_shebang(
    api: GateApi, dataset_id: str
) -> None:
    """Overwriting a link item with an ordinary JSON file makes it an ordinary item again."""
    await api.upload(dataset_id, "/l_link.json", _envelope(LINK))
    _, _, item = await api.upload(dataset_id, "/l_link.json", b'{"plain": true}',
                                  mode="overwrite")
    assert "shebang" not in item["metadata"]["system"]


@pytest.mark.parametrize("content", [
    b'{"shebang": "other", "metadata": {"dltype": "link"}}', b'["shebang", "dataloop"]',
    b"not json at all", b'{"shebang": "dataloop"' + b" " * (70 << 10) + b"}",
], ids=["other-shebang", "array", "not-json", "too-big"])
async def test_other_json_files_stay_plain(api: GateApi, dataset_id: str, content: bytes) -> None:
    """JSON that is not a small dataloop shebang document is stored as a plain file."""
    _, op, item = await api.upload(dataset_id, "/plain.json", content)
    assert op == "created" and "shebang" not in item["metadata"]["system"]


@pytest.mark.parametrize("metadata", [
    "link", {"dltype": "link"}, {"dltype": "link", "linkInfo": {"type": "ftp", "ref": "x"}},
    {"dltype": "link", "linkInfo": {"type": "url", "ref": ""}},
], ids=["metadata-string", "no-linkinfo", "bad-type", "empty-ref"])
async def test_malformed_link_files_are_refused(
    api: GateApi, dataset_id: str, metadata: Any
) -> None:
    """A dataloop shebang file with unusable link metadata is refused with 400, not stored."""
    status, _, body = await api.upload(dataset_id, "/bad_link.json", _envelope(metadata))
    assert status == 400 and body["message"]
    assert await api.list_all(dataset_id, [{"type": "file"}]) == []
