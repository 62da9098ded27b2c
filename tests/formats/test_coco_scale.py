"""COCO at scale and by property: memory stays flat, round trips project equal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlsync.formats.coco import CocoProjector
from dlsync.formats.coco_index import CocoIndex
from dlsync.formats.coco_write import rewrite
from dlsync.formats.codec import projections
from tests.formats.pictures import box, polygon

PROJECTOR = CocoProjector()
IMAGES = 100_000


def write_large(path: Path) -> None:
    """A COCO file of IMAGES images with two boxes each, written entry by entry."""
    with open(path, "w") as out:
        out.write('{"categories": [{"id": 1, "name": "cat"}], "images": [')
        for i in range(IMAGES):
            out.write(("," if i else "") + json.dumps(
                {"id": i, "file_name": f"d{i % 100}/{i}.jpg", "width": 640, "height": 480}))
        out.write('], "annotations": [')
        for i in range(IMAGES):
            for k in range(2):
                out.write(("," if i or k else "") + json.dumps(
                    {"id": 2 * i + k, "image_id": i, "category_id": 1,
                     "bbox": [k, 2, 30.25, 40], "iscrowd": 0}))
        out.write("]}")


MEASURE = """
import resource, sys
from pathlib import Path
from dlsync.formats.coco_index import CocoIndex
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with CocoIndex.build(Path(sys.argv[1]), Path(sys.argv[2])) as index:
    count = sum(1 for _ in index.hashes())
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(count, grown)
"""


@pytest.mark.slow
def test_index_of_100k_images_in_flat_memory(tmp_path: Path) -> None:
    """Indexing and hashing 100,000 images (a 25 MB file) grows the process by under 30 MB."""
    path = tmp_path / "big.json"
    write_large(path)
    done = subprocess.run([sys.executable, "-c", MEASURE, str(path), str(tmp_path)],
                          capture_output=True, text=True, check=True, timeout=100)
    count, grown_kib = (int(v) for v in done.stdout.split())
    assert count == IMAGES
    assert path.stat().st_size > 20_000_000
    assert grown_kib < 30_000, f"grew by {grown_kib} KiB"


@st.composite
def shapes(draw: st.DrawFn, width: int, height: int) -> dict[str, Any]:
    label = draw(st.sampled_from(["cat", "dog", "bird"]))
    if draw(st.booleans()):
        xs = sorted(draw(st.floats(-5, width + 5)) for _ in range(2))
        ys = sorted(draw(st.floats(-5, height + 5)) for _ in range(2))
        annotation = box(label, xs[0], ys[0], xs[1], ys[1])
    else:
        annotation = polygon(label, [(draw(st.floats(-5, width + 5)),
                                      draw(st.floats(-5, height + 5)))
                                     for _ in range(draw(st.integers(3, 7)))])
    if draw(st.booleans()):
        annotation["metadata"] = {"system": {"attributes": {"iscrowd": True}}}
    return annotation


@pytest.mark.parametrize(("width", "height"), [(640, 480), (7, 3), (4000, 3000)])
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_round_trip_projects_equal(tmp_path: Path, width: int, height: int,
                                   data: st.DataObject) -> None:
    """read(rewrite(x)) projects equal to project(x) for boxes and polygons, iscrowd too."""
    path = tmp_path / "coco.json"
    path.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg", "width": width, "height": height}],
        "categories": [{"id": 1, "name": "cat"}], "annotations": []}))
    given_ = data.draw(st.lists(shapes(width, height), max_size=5))
    with CocoIndex.build(path, tmp_path) as index:
        image = index.image("a.jpg")
        assert image is not None
        rewrite(index, {"a.jpg": given_}, tmp_path)
    with CocoIndex.build(path, tmp_path) as index:
        read = index.annotations(image)
    assert projections(PROJECTOR, read, image.size) == projections(PROJECTOR, given_,
                                                                    image.size)
