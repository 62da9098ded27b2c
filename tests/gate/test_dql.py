"""DQL semantics on the gate: operators, globs, sorting, keyset and offset paging, counts."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlsync.gate.dql import compile_query, glob_regex
from dlsync.gate.records import ITEM_FIELDS
from dlsync.gate.refusal import Refusal
from dlsync.gate.server import GateOptions, start_gate
from dlsync.gate.store import Blob, FileUpload
from tests.gate.conftest import GateApi

FILES = [
    ("/img/a.jpg", {"batch": 1, "tag": "x"}),
    ("/img/b.png", {"batch": 2}),
    ("/img/sub/c.jpg", {"batch": 3, "tag": "y"}),
    ("/txt/d.txt", {}),
    ("/e.jpg", {"batch": 1}),
]
DEFAULTS: list[Any] = [{"hidden": False}, {"type": "file"}]


@pytest.fixture
async def seeded(api: GateApi, dataset_id: str) -> str:
    """The dataset with FILES uploaded in order."""
    for path, user in FILES:
        await api.upload(dataset_id, path, path.encode(), metadata={"user": user})
    return dataset_id


CASES: list[tuple[str, list[Any], list[str]]] = [
    ("defaults", [], ["/img/a.jpg", "/img/b.png", "/img/sub/c.jpg", "/txt/d.txt", "/e.jpg"]),
    ("dir equality", [{"dir": "/img"}], ["/img/a.jpg", "/img/b.png"]),
    ("dir one level glob", [{"dir": "/img/*"}], ["/img/sub/c.jpg"]),
    ("filename deep glob", [{"filename": "/img/**"}],
     ["/img/a.jpg", "/img/b.png", "/img/sub/c.jpg"]),
    ("filename shallow glob", [{"filename": "/img/*"}], ["/img/a.jpg", "/img/b.png"]),
    ("mimetype glob", [{"metadata.system.mimetype": "image/*"}],
     ["/img/a.jpg", "/img/b.png", "/img/sub/c.jpg", "/e.jpg"]),
    ("eq op", [{"metadata.user.batch": {"$eq": 1}}], ["/img/a.jpg", "/e.jpg"]),
    ("ne matches missing too", [{"metadata.user.batch": {"$ne": 1}}],
     ["/img/b.png", "/img/sub/c.jpg", "/txt/d.txt"]),
    ("gt", [{"metadata.user.batch": {"$gt": 1}}], ["/img/b.png", "/img/sub/c.jpg"]),
    ("gte lte", [{"metadata.user.batch": {"$gte": 2, "$lte": 3}}],
     ["/img/b.png", "/img/sub/c.jpg"]),
    ("lt", [{"metadata.user.batch": {"$lt": 2}}], ["/img/a.jpg", "/e.jpg"]),
    ("in", [{"name": {"$in": ["a.jpg", "d.txt"]}}], ["/img/a.jpg", "/txt/d.txt"]),
    ("nin", [{"name": {"$nin": ["a.jpg", "d.txt"]}}], ["/img/b.png", "/img/sub/c.jpg", "/e.jpg"]),
    ("exists", [{"metadata.user.tag": {"$exists": True}}], ["/img/a.jpg", "/img/sub/c.jpg"]),
    ("not exists", [{"metadata.user.batch": {"$exists": False}}], ["/txt/d.txt"]),
    ("nested or", [{"$or": [{"name": "a.jpg"}, {"name": "e.jpg"}]}], ["/img/a.jpg", "/e.jpg"]),
]


@pytest.mark.parametrize(("and_filter", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
async def test_filters_select_the_right_items(
    api: GateApi, seeded: str, and_filter: list[Any], expected: list[str]
) -> None:
    """Each DQL condition selects exactly the expected files, in id order."""
    found = await api.list_all(seeded, DEFAULTS + and_filter)
    assert [i["filename"] for i in found] == expected


async def test_or_siblings_mean_any_of_or_and_all_of_and(api: GateApi, seeded: str) -> None:
    """filter {$or, $and} as siblings = (any of $or) AND (all of $and)."""
    page = await api.query(seeded, {"filter": {
        "$or": [{"metadata.user.batch": 1}, {"metadata.user.batch": 3}],
        "$and": [*DEFAULTS, {"dir": "/img"}]}, "resource": "items"})
    assert [i["filename"] for i in page["items"]] == ["/img/a.jpg"]
    assert page["totalItemsCount"] == 1


async def test_sort_descending_by_filename(api: GateApi, seeded: str) -> None:
    """sort {filename: descending} orders the page by filename, last first."""
    page = await api.query(seeded, {"filter": {"$and": DEFAULTS},
                                    "sort": {"filename": "descending"}, "resource": "items"})
    names = [i["filename"] for i in page["items"]]
    assert names == sorted(names, reverse=True)


async def test_offset_paging_counts_and_has_next(api: GateApi, seeded: str) -> None:
    """Offset pages of 2 over 5 files: 3 pages, hasNextPage true until the last."""
    pages = [await api.query(seeded, {"filter": {"$and": DEFAULTS}, "page": n, "pageSize": 2,
                                      "resource": "items"}) for n in range(3)]
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    assert [p["hasNextPage"] for p in pages] == [True, True, False]
    assert {p["totalItemsCount"] for p in pages} == {5}
    assert {p["totalPagesCount"] for p in pages} == {3}


async def test_keyset_paging_through_2500_items() -> None:
    """Keyset pages of 1000 over 2,500 items (plus decoys) return each once, counts exact."""
    async with SeededGate(2500) as (api, dataset_id):
        seen: list[str] = []
        last = None
        while True:
            extra = [{"id": {"$gt": last}}] if last else []
            page = await api.query(dataset_id, {
                "filter": {"$and": [*DEFAULTS, {"dir": "/many"}, *extra]},
                "sort": {"id": "ascending"}, "page": 0, "pageSize": 1000, "resource": "items"})
            assert page["totalItemsCount"] == 2500 and page["totalPagesCount"] == 3
            seen += [i["id"] for i in page["items"]]
            if not page["hasNextPage"]:
                break
            last = page["items"][-1]["id"]
        assert len(seen) == 2500 == len(set(seen)) and seen == sorted(seen)


class SeededGate:
    """A gate whose dataset holds ``n`` files under /many plus 10 under /other."""

    def __init__(self, n: int) -> None:
        self.n = n

    async def __aenter__(self) -> tuple[GateApi, str]:
        self.gate = await start_gate(GateOptions())
        self.session = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {self.gate.mint_token()}"})
        api = GateApi(self.session, self.gate.url)
        dataset_id = await api.new_dataset("many")
        blob = Blob(sha256="0" * 64, size=1, mimetype="image/jpeg")
        for i in range(self.n + 10):
            folder = "/many" if i < self.n else "/other"
            upload = FileUpload(f"{folder}/{i:05d}.jpg", blob)
            self.gate.store.put_file(dataset_id, upload, user="seed@dlsync.test", overwrite=False)
        return api, dataset_id

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()
        await self.gate.close()


@pytest.mark.parametrize("body", [
    {"filter": {"$and": [{"name": {"$regex": "x"}}]}},
    {"filter": {"$and": [{"$nor": []}]}},
    {"filter": {"$and": "not a list"}},
    {"filter": {"$and": [{"name": {"$in": "a.jpg"}}]}},
    {"filter": {"$and": [{"name": {"$exists": "yes"}}]}},
    {"filter": {"$and": [{"name": {"x": 1}}]}},
    {"filter": {"$and": [{"metadata.user.'x": 1}]}},
    {"filter": {"$and": [{"name": [1, 2]}]}},
    {"filter": {"$and": []}, "sort": {"name": "up"}},
    {"filter": {}, "pageSize": -1},
    {"filter": {}, "page": "0"},
    {"filter": []},
])
def test_malformed_dql_is_refused_with_a_message(body: dict[str, Any]) -> None:
    """Unknown operators and wrongly typed values are refused with 400 and a message."""
    with pytest.raises(Refusal) as refused:
        compile_query(body, ITEM_FIELDS)
    assert refused.value.status == 400 and refused.value.message


def test_glob_star_stays_within_a_segment() -> None:
    """'*' matches within one path segment, '**' across segments."""
    assert glob_regex("/a/*").fullmatch("/a/b")
    assert not glob_regex("/a/*").fullmatch("/a/b/c")
    assert glob_regex("/a/**").fullmatch("/a/b/c")


_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=5),
                     st.sampled_from(["/img/*", "/**", "image/*"]))
_fields = st.sampled_from(["id", "name", "dir", "filename", "hidden", "type",
                           "metadata.user.batch", "metadata.system.mimetype", "createdAt"])
_ops = st.sampled_from(["$eq", "$ne", "$gt", "$lt", "$gte", "$lte", "$in", "$nin", "$exists"])


@st.composite
def _conditions(draw: st.DrawFn) -> dict[str, Any]:
    field, op = draw(_fields), draw(_ops)
    if op in ("$in", "$nin"):
        return {field: {op: draw(st.lists(_scalars, max_size=3))}}
    if op == "$exists":
        return {field: {op: draw(st.booleans())}}
    return {field: {op: draw(_scalars)}} if draw(st.booleans()) else {field: draw(_scalars)}


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ands=st.lists(_conditions(), max_size=4), ors=st.lists(_conditions(), max_size=3))
async def test_random_well_formed_filters_never_crash(
    api: GateApi, dataset_id: str, ands: list[Any], ors: list[Any]
) -> None:
    """Any well-formed filter gets 200 or a 4xx with a message, never a 5xx."""
    status, body = await api.call("POST", f"/datasets/{dataset_id}/query", json={
        "filter": {"$and": ands, "$or": ors}, "resource": "items", "pageSize": 10})
    assert status == 200 or (400 <= status < 500 and body["message"])
