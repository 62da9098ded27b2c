"""``dlsync pull --items``: a dataset checked out into an empty folder, resumable and verified."""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dlsync.config import pair_from_flags
from dlsync.constants import PART_SUFFIX
from dlsync.errors import TransportError
from dlsync.gate.server import RunningGate
from dlsync.pull.command import PullRequest, run_pull
from dlsync.pull.download import Fetch
from dlsync.pull.puller import PullOptions
from dlsync.remote.client import DataloopClient
from tests.mirror.conftest import DATASET, PROJECT, MirrorRun, Remote, writes
from tests.pull.conftest import PullRun, annotation_doc

BIG = 3 * (1 << 20) + 17
CUT = 1 << 20


def _seed(source: Path) -> dict[str, bytes]:
    files = {"a.jpg": b"first", "sub/b.png": b"second", "sub/big.bin": os.urandom(BIG)}
    for rel, data in files.items():
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_bytes(data)
    body = [{"type": "box", "label": "car", "coordinates": [{"x": 1, "y": 2}, {"x": 3, "y": 4}]}]
    (source / "a.jpg.json").write_text(json.dumps({"annotations": body}))
    return files


def _streams(gate: RunningGate) -> int:
    return sum(sum(by.values()) for route, by in gate.stats()["by_route"].items()
               if route.endswith("/stream"))


async def test_checkout_then_mirror_writes_nothing(
        mirror: MirrorRun, pull: PullRun, remote: Remote, source: Path, tmp_path: Path) -> None:
    """Items and annotations land in an empty folder; mirroring it back sends no write."""
    files = _seed(source)
    assert (await mirror("--create")).code == 0
    item_id = (await remote.items())["/a.jpg"]["id"]
    await remote.annotate(item_id, "person")
    checkout, state = tmp_path / "checkout", tmp_path / "checkout.db"

    code, out, err = await pull("--items", "--state", str(state), root=checkout)
    assert code == 0, out + err
    for rel, data in files.items():
        assert (checkout / rel).read_bytes() == data
    labels = sorted(a["label"] for a in annotation_doc(checkout / "a.jpg.json")["annotations"])
    assert labels == ["car", "person"]
    assert not list(checkout.rglob("*.dlsync-part"))

    remote.gate.reset_stats()
    code, out, err = await mirror("--state", str(state), root=checkout)
    assert code == 0, out + err
    assert writes(remote.gate.stats()) == {}


def _cutting(client: DataloopClient, seen: list[tuple[str, int]], cut_item: str | None) -> Fetch:
    """A download that records each (item, offset) and breaks ``cut_item`` after CUT bytes."""

    async def fetch(item_id: str, offset: int) -> AsyncIterator[bytes]:
        seen.append((item_id, offset))
        sent = 0
        async for chunk in client.download(item_id, offset=offset):
            if item_id == cut_item and sent + len(chunk) > CUT:
                yield chunk[:CUT - sent]
                raise TransportError("connection reset (test)")
            sent += len(chunk)
            yield chunk

    return fetch


async def test_interrupted_checkout_resumes_only_the_unfinished_file(
        mirror: MirrorRun, remote: Remote, gate: RunningGate, source: Path,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken download resumes from its part file with Range; finished files are not fetched."""
    files = _seed(source)
    assert (await mirror("--create")).code == 0
    big_id = (await remote.items())["/sub/big.bin"]["id"]
    checkout, state = tmp_path / "checkout", tmp_path / "checkout.db"
    monkeypatch.setenv("DLSYNC_TOKEN", gate.mint_token())
    pair = pair_from_flags(source=str(checkout), project=PROJECT, dataset=DATASET,
                           remote=gate.url)
    seen: list[tuple[str, int]] = []

    def request(cut: str | None) -> PullRequest:
        return PullRequest(pair=pair, state=state, options=PullOptions(items=True),
                           fetch=lambda client: _cutting(client, seen, cut))

    assert await run_pull(request(big_id), io.StringIO()) == 1
    assert (checkout / "sub/big.bin.dlsync-part").stat().st_size == CUT
    assert not (checkout / "sub/big.bin").exists()
    assert (checkout / "a.jpg").read_bytes() == files["a.jpg"]

    seen.clear()
    gate.reset_stats()
    assert await run_pull(request(None), io.StringIO()) == 0
    assert seen == [(big_id, CUT)]
    assert _streams(gate) == 1
    assert "206" in gate.stats()["by_route"]["GET /items/{id}/stream"]
    data = (checkout / "sub/big.bin").read_bytes()
    assert hashlib.sha256(data).digest() == hashlib.sha256(files["sub/big.bin"]).digest()
    assert not (checkout / "sub/big.bin.dlsync-part").exists()


async def test_a_whole_part_file_and_an_empty_item_need_no_range_request(
        mirror: MirrorRun, pull: PullRun, remote: Remote, source: Path, tmp_path: Path) -> None:
    """A part file already whole (a pull stopped between its last byte and its rename) is
    verified and put in place without asking for a range past the end (which is refused), and
    an empty item is checked out without a request for its bytes."""
    (source / "whole.bin").write_bytes(b"w" * 200)
    (source / "empty.bin").write_bytes(b"")
    assert (await mirror("--create", "--annotations", "none")).code == 0
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / ("whole.bin" + PART_SUFFIX)).write_bytes(b"w" * 200)
    remote.gate.reset_stats()
    code, out, err = await pull("--annotations", "none", "--items", "--state",
                                str(tmp_path / "checkout.db"), root=checkout)
    assert code == 0, out + err
    assert (checkout / "whole.bin").read_bytes() == b"w" * 200
    assert (checkout / "empty.bin").read_bytes() == b""
    streams = sum(n for route, by in remote.gate.stats()["by_route"].items()
                  if route.endswith("/stream") for n in by.values())
    assert streams == 0
