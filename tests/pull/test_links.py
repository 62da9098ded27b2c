"""``pull --items`` with link items: reported, not downloaded, and the run does not fail."""

from __future__ import annotations

import json
from pathlib import Path

from tests.layouts import write_item
from tests.mirror.conftest import MirrorRun, Remote
from tests.pull.conftest import PullRun

REF = "https://example.com/cats/tabby.jpg"


async def test_pull_items_reports_link_items_and_downloads_the_rest(
        mirror: MirrorRun, pull: PullRun, remote: Remote, source: Path, tmp_path: Path) -> None:
    """A checkout of a dataset holding a link item (as dtlpy's ``UrlLink`` makes one) gets the
    ordinary items, lists the link item with where its content lives, and exits 0."""
    write_item(source, "a.txt", b"a")
    assert (await mirror("--create", "--annotations", "none")).code == 0
    envelope = tmp_path / "tabby_link.json"
    envelope.write_text(json.dumps({"type": "link", "shebang": "dataloop", "metadata": {
        "dltype": "link", "linkInfo": {"type": "url", "ref": REF}}}))
    await remote.client.upload(await remote.dataset_id(), envelope, "/tabby_link.json")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    dry = await pull("--annotations", "none", "--items", "--dry-run", "--state",
                     str(tmp_path / "other.db"), root=checkout)
    assert dry.code == 0, dry.out + dry.err
    assert f"~ tabby_link.json  (link item, its content is at {REF}; not downloaded)" \
        in dry.out.splitlines()
    assert "+ a.txt  (new locally: downloaded)" in dry.out.splitlines()
    code, out, err = await pull("--annotations", "none", "--items", "--json", "--state",
                                str(tmp_path / "other.db"), root=checkout)
    assert code == 0, out + err
    assert json.loads(out)["outcomes"].get("link") == 1
    assert sorted(p.name for p in checkout.iterdir()) == ["a.txt"]
