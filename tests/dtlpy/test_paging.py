"""dtlpy pages through more than 1,000 items: keyset paging, offset paging, counts and ids."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import pytest

from dlsync.gate.server import RunningGate
from dlsync.remote.client import DataloopClient
from dlsync.remote.credentials import Credentials
from dlsync.remote.settings import RemoteSettings
from tests.dtlpy.samples import write_flat
from tests.dtlpy.sdk import DTLPY_MARKS, EMAIL, unique

pytestmark = [*DTLPY_MARKS, pytest.mark.slow]

MANY = 1050


async def upload_with_dlsync(gate: RunningGate, dataset_id: str, files: list[Path]) -> None:
    """Upload ``files`` under ``/many`` with dlsync's own client, 32 at a time: these tests are
    about dtlpy's paging, and dtlpy's uploader (tested in tests/dtlpy/test_upload.py) made the
    fixture take 9.8 s, against 2.4 s now with dtlpy's login included."""
    settings = RemoteSettings(url=gate.url, rate=10_000, burst=1_000)
    async with DataloopClient(settings, Credentials(gate.mint_token(email=EMAIL))) as client:
        limit = anyio.Semaphore(32)

        async def one(path: Path) -> None:
            async with limit:
                await client.upload(dataset_id, path, f"/many/{path.name}")

        async with anyio.create_task_group() as group:
            for path in files:
                group.start_soon(one, path)


@pytest.fixture(scope="module")
def many(gate: RunningGate, project: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A dataset holding 1,050 distinct one-pixel PNGs under ``/many``."""
    files = write_flat(tmp_path_factory.mktemp("many"), MANY)
    dataset = project.datasets.create(dataset_name=unique("many"))
    anyio.run(upload_with_dlsync, gate, dataset.id, files)
    return dataset


def test_listing_reports_the_full_count(many: Any) -> None:
    """The first page's totalItemsCount gives every item; a page holds at most 1,000."""
    pages = many.items.list()
    assert pages.items_count == MANY
    assert len(pages) == MANY
    assert len(pages.items) == 1000


def test_all_walks_every_item_once(many: Any) -> None:
    """pages.all() yields each of the 1,050 items exactly once, all under /many."""
    items = list(many.items.list().all())
    ids = [item.id for item in items]
    assert len(ids) == MANY
    assert len(set(ids)) == MANY
    assert {item.filename for item in items} == {f"/many/p_{i:05d}.png" for i in range(MANY)}


def test_iterating_pages_gives_full_pages_then_the_rest(many: Any) -> None:
    """Iterating the paged listing gives one page of 1,000 then one of 50, with no overlap."""
    pages = [[item.id for item in page] for page in many.items.list()]
    assert [len(page) for page in pages] == [1000, MANY - 1000]
    assert len({item_id for page in pages for item_id in page}) == MANY


def test_small_pages_in_filename_order(dl: ModuleType, many: Any) -> None:
    """Offset paging sorted by filename, 100 per page, yields every item once and in order."""
    filters = dl.Filters()
    filters.sort_by(field="filename", value=dl.FiltersOrderByDirection.ASCENDING)
    filters.page_size = 100
    pages = many.items.list(filters=filters)
    assert pages.total_pages_count == 11
    names = [item.filename for item in pages.all()]
    assert names == [f"/many/p_{i:05d}.png" for i in range(MANY)]


def test_go_to_page_with_offset_paging(dl: ModuleType, many: Any) -> None:
    """Asking for page 10 of 100-item pages returns the last 50 items in filename order."""
    filters = dl.Filters()
    filters.sort_by(field="filename", value=dl.FiltersOrderByDirection.DESCENDING)
    filters.page_size = 100
    pages = many.items.list(filters=filters)
    pages.go_to_page(10)
    assert [item.filename for item in pages.items] == [
        f"/many/p_{i:05d}.png" for i in reversed(range(50))]


def test_written_files_are_distinct(tmp_path: Path) -> None:
    """The paging fixture's files differ pairwise, so the gate cannot fold any two together."""
    contents = {path.read_bytes() for path in write_flat(tmp_path, MANY)}
    assert len(contents) == MANY


def test_keyset_pages_of_250(many: Any) -> None:
    """Keyset paging with 250 per page gives 5 pages (4 full), ids ascending, none repeated."""
    pages = [[item.id for item in page] for page in many.items.list(page_size=250)]
    ids = [item_id for page in pages for item_id in page]
    assert [len(page) for page in pages] == [250, 250, 250, 250, MANY - 1000]
    assert ids == sorted(ids)
    assert len(set(ids)) == MANY


def test_keyset_paging_by_descending_id(dl: ModuleType, many: Any) -> None:
    """Sorting by id descending pages backwards with $lt and still yields every item once."""
    filters = dl.Filters()
    filters.sort_by(field="id", value=dl.FiltersOrderByDirection.DESCENDING)
    filters.page_size = 400
    ids = [item.id for item in many.items.list(filters=filters).all()]
    assert len(ids) == MANY
    assert ids == sorted(set(ids), reverse=True)
