"""dtlpy link items on the gate: upload ``dl.UrlLink``, list and get it, download through it."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

from tests.dtlpy.samples import png_bytes
from tests.dtlpy.sdk import DTLPY_MARKS, all_items

pytestmark = DTLPY_MARKS
REF = "https://images.example.org/cats/tabby.png?size=large"


def test_url_link_upload_makes_a_link_item_dtlpy_reads(dl: ModuleType, dataset: Any) -> None:
    """UrlLink uploads <name>_link.json; the item lists with the files, and dtlpy reads its
    linkInfo: resolved_stream is the link's URL, not the gate's stream."""
    link = dl.UrlLink(ref=REF, name="tabby")
    uploaded = dataset.items.upload(local_path=link, remote_path="/linked",
                                    raise_on_error=True)
    assert uploaded.filename == "/linked/tabby_link.json"
    listed = {item.filename: item for item in all_items(dataset)}
    assert set(listed) == {"/linked/tabby_link.json"}
    item = dataset.items.get(item_id=uploaded.id)
    assert item.type == "file" and item.name == "tabby_link.json"
    shebang = item.metadata["system"]["shebang"]
    assert shebang == {"dltype": "link",
                       "linkInfo": {"type": "url", "ref": REF, "mimetype": "image/png"}}
    assert item.resolved_stream == REF
    assert listed[item.filename].metadata["system"]["shebang"] == shebang


def test_link_item_downloads_from_its_reference(
        dl: ModuleType, dataset: Any, tmp_path: Path) -> None:
    """Downloading a link item fetches the linked content (a file:// URL here), byte for byte."""
    picture = tmp_path / "source" / "pic.png"
    picture.parent.mkdir()
    picture.write_bytes(png_bytes(3, 2, (200, 10, 10)))
    item = dataset.items.upload(local_path=dl.UrlLink(ref=picture.as_uri(), name="pic"),
                                raise_on_error=True)
    target = tmp_path / "out"
    target.mkdir()
    written = Path(item.download(local_path=str(target)))
    assert written.name == "pic_link.json.png"  # dtlpy appends the link's extension
    assert written.read_bytes() == picture.read_bytes()
