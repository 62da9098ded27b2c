"""dtlpy's own retries get a tree uploaded through a misbehaving gate, with nothing duplicated."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dlsync.gate.faults import FaultSettings
from dlsync.gate.server import RunningGate
from tests.dtlpy.samples import SampleTree
from tests.dtlpy.sdk import DTLPY_MARKS, all_items, boxes_of, upload_tree

pytestmark = DTLPY_MARKS

UPLOAD = "POST /datasets/{id}/items"
ANNOTATE = "POST /items/{id}/annotations"
QUERY = "POST /datasets/{id}/query"


@pytest.fixture
def faults(gate: RunningGate) -> Iterator[Callable[[FaultSettings], None]]:
    """Switch the shared gate's faults for one test; it behaves again afterwards."""
    yield gate.set_faults
    gate.set_faults(FaultSettings())


def answered(gate: RunningGate, route: str, status: int) -> int:
    """How many times the gate has answered ``route`` with ``status``."""
    return int(gate.stats()["by_route"].get(route, {}).get(str(status), 0))


def server_errors(gate: RunningGate, route: str) -> int:
    """How many 5xx answers ``route`` has had."""
    return sum(answered(gate, route, status) for status in (500, 502, 503))


def test_upload_through_5xx_answers_lands_everything_once(
        gate: RunningGate, faults: Callable[[FaultSettings], None], dataset: Any,
        sample_tree: SampleTree) -> None:
    """With every upload and annotation post answered 503 twice first, every file and box
    arrives once, and each was tried exactly three times."""
    by_path = sample_tree.by_remote_path("/flaky")
    upload_errors, annotate_errors = server_errors(gate, UPLOAD), server_errors(gate, ANNOTATE)
    faults(FaultSettings(fail_first=2, routes=(UPLOAD, ANNOTATE)))
    upload_tree(dataset, sample_tree, "/flaky")
    faults(FaultSettings())
    items = all_items(dataset)
    assert sorted(item.filename for item in items) == sorted(by_path)
    for item in items:
        assert boxes_of(item) == sorted(by_path[item.filename].boxes), item.filename
    assert server_errors(gate, UPLOAD) - upload_errors == 2 * len(by_path)
    annotated = sum(1 for sample in by_path.values() if sample.boxes)
    assert server_errors(gate, ANNOTATE) - annotate_errors == 2 * annotated


def test_listing_through_429_with_retry_after_succeeds(
        gate: RunningGate, faults: Callable[[FaultSettings], None], uploaded: Any,
        sample_tree: SampleTree) -> None:
    """Rate-limited queries are answered 429 + Retry-After; dtlpy waits and gets every item."""
    limited_before = answered(gate, QUERY, 429)
    paths = sorted(sample_tree.remote_paths("/sub"))[:6]
    faults(FaultSettings(rate_limit=2.0, routes=(QUERY,)))
    found = [uploaded.items.get(filepath=path).filename for path in paths]
    faults(FaultSettings())
    assert found == paths
    assert answered(gate, QUERY, 429) > limited_before
