"""A checkout's files become durable in batches, and each is recorded only once it is.

Every test checks out a dataset mirrored from ``source`` through ``run_pull`` on a real gate,
with the download seam (``PullRequest.fetch``) watching, breaking or changing what is fetched,
and reads state with a second connection, as another process would.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from dlsync.config import pair_from_flags
from dlsync.constants import PART_SUFFIX
from dlsync.errors import AuthError, TransportError
from dlsync.gate.faults import FaultSettings
from dlsync.gate.server import RunningGate
from dlsync.model import FileStatus
from dlsync.pull.command import PullRequest, run_pull
from dlsync.pull.download import Fetch
from dlsync.pull.puller import PullOptions
from dlsync.remote.client import DataloopClient
from dlsync.state.queries import StateReader
from tests.mirror.conftest import DATASET, PROJECT, MirrorRun, Remote
from tests.pull.conftest import annotation_doc

FILES = 40
Watch = Callable[[str, int], None]


def _seed(source: Path) -> dict[str, bytes]:
    """FILES distinct files in three folders, each with a sidecar annotation file."""
    files = {}
    for n in range(FILES):
        rel = f"d{n % 3}/f{n:03d}.bin"
        files[rel] = n.to_bytes(2, "big") * (100 + n)
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_bytes(files[rel])
        box = {"type": "box", "label": f"c{n}", "coordinates": [{"x": 1, "y": 2},
                                                                {"x": 3 + n, "y": 4}]}
        (source / (rel + ".json")).write_text(json.dumps({"annotations": [box]}))
    return files


def _watching(client: DataloopClient, watch: Watch,
              change: Callable[[str, bytes], bytes] | None = None) -> Fetch:
    """The client's download, calling ``watch(item_id, offset)`` before each and passing the
    bytes through ``change`` when given."""

    async def fetch(item_id: str, offset: int) -> AsyncIterator[bytes]:
        watch(item_id, offset)
        async for chunk in client.download(item_id, offset=offset):
            yield change(item_id, chunk) if change else chunk

    return fetch


def _recorded_are_durable(checkout: Path, state: Path, files: dict[str, bytes]) -> set[str]:
    """The paths state records as synced, each checked to be at its name with its bytes and
    its annotation file beside it."""
    if not state.exists():
        return set()
    with StateReader(state) as reader:
        pairs = reader.pairs()
        records = list(reader.files(pairs[0][0])) if pairs else []
    synced = {r.path for r in records if r.status is FileStatus.SYNCED}
    for record in records:
        if record.status is not FileStatus.SYNCED:
            continue
        assert (checkout / record.path).read_bytes() == files[record.path], record.path
        if record.annotations_hash is not None:
            notes = annotation_doc(checkout / (record.path + ".json"))["annotations"]
            assert notes and notes[0]["label"].startswith("c"), record.path
    return synced


@pytest.fixture
async def checkout(mirror: MirrorRun, remote: Remote, gate: RunningGate, source: Path,
                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """The dataset mirrored from ``source``; the token the pulls use in the environment."""
    files = _seed(source)
    assert (await mirror("--create")).code == 0
    monkeypatch.setenv("DLSYNC_TOKEN", gate.mint_token())
    return files


def _request(gate: RunningGate, folder: Path, state: Path, watch: Watch | None = None,
             change: Callable[[str, bytes], bytes] | None = None) -> PullRequest:
    """``pull --items`` of the dataset into ``folder``, its downloads seen by ``watch`` and
    changed by ``change``."""
    pair = pair_from_flags(source=str(folder), project=PROJECT, dataset=DATASET,
                           remote=gate.url, workers=4)

    def fetch(client: DataloopClient) -> Fetch:
        return _watching(client, watch or (lambda *_: None), change)

    return PullRequest(pair=pair, state=state, options=PullOptions(items=True), fetch=fetch)


def _leftovers(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.name.endswith(PART_SUFFIX)
                  or p.name.startswith(".dlsync-"))


async def test_batched_checkout_writes_every_file_verified(
        checkout: dict[str, bytes], gate: RunningGate, tmp_path: Path) -> None:
    """Every file and annotation file is in place with its content, every item recorded
    synced with its SHA-256, and no part or temporary file is left."""
    folder, state = tmp_path / "checkout", tmp_path / "checkout.db"
    seen: list[str] = []
    watch: Watch = lambda item, _: seen.append(item)  # noqa: E731
    assert await run_pull(_request(gate, folder, state, watch), io.StringIO()) == 0
    assert len(seen) == FILES
    assert _recorded_are_durable(folder, state, checkout) == set(checkout)
    assert _leftovers(folder) == []
    with StateReader(state) as reader:
        records = {r.path: r for r in reader.files(reader.pairs()[0][0])}
    for rel, data in checkout.items():
        assert (folder / rel).read_bytes() == data
        assert records[rel].annotations_hash is not None
        assert records[rel].size == len(data)
        stat = (folder / (rel + ".json")).stat()
        assert (records[rel].annotation_size, records[rel].annotation_mtime_ns) == \
            (stat.st_size, stat.st_mtime_ns)


async def test_a_stopped_checkout_records_only_durable_files_and_a_rerun_completes_it(
        checkout: dict[str, bytes], gate: RunningGate, tmp_path: Path) -> None:
    """While the checkout runs, every record state holds names a file in place with its bytes;
    a fatal error after some downloads leaves the rest unrecorded (whole part files kept, no
    temporary files), and the next pull completes it without fetching those parts again."""
    folder, state = tmp_path / "checkout", tmp_path / "checkout.db"
    gate.set_faults(FaultSettings(latency_ms=100))  # long enough for state to commit records
    seen: list[str] = []
    checks: list[int] = []

    def watch(item_id: str, offset: int) -> None:
        checks.append(len(_recorded_are_durable(folder, state, checkout)))
        seen.append(item_id)
        if len(seen) > 3 * FILES // 4:
            raise AuthError("token revoked (test)")

    with pytest.raises((AuthError, BaseExceptionGroup)):
        await run_pull(_request(gate, folder, state, watch), io.StringIO())
    assert max(checks) > 0   # records were there to check while the checkout ran
    recorded = _recorded_are_durable(folder, state, checkout)
    assert len(recorded) < FILES
    assert not any(p.name.startswith(".dlsync-") for p in _leftovers(folder))
    whole_parts = {str(p.relative_to(folder)).removesuffix(PART_SUFFIX)
                   for p in folder.rglob("*" + PART_SUFFIX)}
    assert not whole_parts & recorded
    for rel in whole_parts:
        assert (folder / (rel + PART_SUFFIX)).read_bytes() == checkout[rel]

    seen.clear()
    gate.set_faults(FaultSettings())
    assert await run_pull(_request(gate, folder, state, lambda item, _: seen.append(item)),
                          io.StringIO()) == 0
    assert _recorded_are_durable(folder, state, checkout) == set(checkout)
    assert _leftovers(folder) == []
    assert len(seen) == FILES - len(recorded) - len(whole_parts)


async def test_a_hash_mismatch_fails_that_item_alone(
        checkout: dict[str, bytes], remote: Remote, gate: RunningGate,
        tmp_path: Path) -> None:
    """A download whose bytes differ from the item's fingerprint fails alone: no file, no
    part, no record for it; every other item of its batch is in place and recorded."""
    folder, state = tmp_path / "checkout", tmp_path / "checkout.db"
    bad = (await remote.items())["/d1/f004.bin"]["id"]

    def change(item_id: str, chunk: bytes) -> bytes:
        return chunk[:-1] + b"!" if item_id == bad else chunk

    out = io.StringIO()
    assert await run_pull(_request(gate, folder, state, change=change), out) == 1
    assert "SHA-256" in out.getvalue()
    recorded = _recorded_are_durable(folder, state, checkout)
    assert recorded == set(checkout) - {"d1/f004.bin"}
    assert not (folder / "d1/f004.bin").exists()
    assert _leftovers(folder) == []

    assert await run_pull(_request(gate, folder, state), io.StringIO()) == 0
    assert _recorded_are_durable(folder, state, checkout) == set(checkout)


async def test_a_file_appearing_before_its_batch_is_placed_fails_that_item_alone(
        checkout: dict[str, bytes], remote: Remote, gate: RunningGate,
        tmp_path: Path) -> None:
    """A local file that appears at a download's name while it waits for its batch is not
    overwritten: that item fails (its part kept), the rest of the batch is recorded."""
    folder, state = tmp_path / "checkout", tmp_path / "checkout.db"
    target = folder / "d2/f005.bin"
    taken = (await remote.items())["/d2/f005.bin"]["id"]

    def watch(item_id: str, offset: int) -> None:
        if item_id == taken:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b"mine")

    out = io.StringIO()
    assert await run_pull(_request(gate, folder, state, watch), out) == 1
    assert "appeared locally" in out.getvalue()
    assert target.read_bytes() == b"mine"
    assert (folder / ("d2/f005.bin" + PART_SUFFIX)).read_bytes() == checkout["d2/f005.bin"]
    assert _recorded_are_durable(folder, state, checkout) == set(checkout) - {"d2/f005.bin"}


async def test_a_download_is_kept_when_its_annotations_fail(
        checkout: dict[str, bytes], gate: RunningGate, tmp_path: Path) -> None:
    """An item whose local annotation file cannot be read still has its download placed and
    recorded (without an annotation set); only its annotations fail, and the file is left."""
    folder, state = tmp_path / "checkout", tmp_path / "checkout.db"
    broken = folder / "d0/f000.bin.json"
    broken.parent.mkdir(parents=True)
    broken.write_text("{not json")
    out = io.StringIO()
    assert await run_pull(_request(gate, folder, state), out) == 1
    assert "f000.bin.json" in out.getvalue()
    assert broken.read_text() == "{not json"
    assert _recorded_are_durable(folder, state, checkout) == set(checkout)
    with StateReader(state) as reader:
        record = reader.file(reader.pairs()[0][0], "d0/f000.bin")
    assert record is not None and record.annotations_hash is None
    assert _leftovers(folder) == []


async def test_bytes_received_before_a_broken_download_are_kept_for_the_resume(
        checkout: dict[str, bytes], remote: Remote, gate: RunningGate,
        tmp_path: Path) -> None:
    """A download that breaks after its first bytes leaves them in its part file (they were
    held in memory, not yet written), and the next pull asks only for the rest."""
    folder, state = tmp_path / "checkout", tmp_path / "checkout.db"
    item = (await remote.items())["/d1/f010.bin"]["id"]
    pair = pair_from_flags(source=str(folder), project=PROJECT, dataset=DATASET,
                           remote=gate.url)
    offsets: list[int] = []

    def breaking(client: DataloopClient) -> Fetch:
        async def fetch(item_id: str, offset: int) -> AsyncIterator[bytes]:
            if item_id == item:
                offsets.append(offset)
            async for chunk in client.download(item_id, offset=offset):
                if item_id == item and offset == 0:
                    yield chunk[:100]
                    raise TransportError("connection reset (test)")
                yield chunk
        return fetch

    request = PullRequest(pair=pair, state=state, options=PullOptions(items=True),
                          fetch=breaking)
    assert await run_pull(request, io.StringIO()) == 1
    assert (folder / ("d1/f010.bin" + PART_SUFFIX)).read_bytes() == checkout["d1/f010.bin"][:100]
    assert await run_pull(request, io.StringIO()) == 0
    assert offsets == [0, 100]
    assert _recorded_are_durable(folder, state, checkout) == set(checkout)
