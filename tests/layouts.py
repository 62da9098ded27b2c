"""The two annotation layouts scenario tests run in: a parallel folder, and sidecar files."""

from __future__ import annotations

import json
from pathlib import Path


class Layout:
    """Where a test writes the annotation file of ``img/x.jpg``, and the flag that says so."""

    def __init__(self, kind: str, source: Path, tmp_path: Path) -> None:
        self.kind = kind
        self.source = source
        self.directory = tmp_path / "annotations"

    @property
    def flags(self) -> tuple[str, ...]:
        return ("--annotations", str(self.directory)) if self.kind == "dir" else ()

    def annotation_file(self, rel: str) -> Path:
        if self.kind == "dir":
            return self.directory / (rel.rsplit(".", 1)[0] + ".json")
        return self.source / (rel + ".json")

    def write(self, rel: str, wanted: list[str]) -> None:
        """An annotation file of ``rel`` with one class annotation per label."""
        path = self.annotation_file(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        body = [{"type": "class", "label": label, "coordinates": []} for label in wanted]
        path.write_text(json.dumps({"annotations": body}))

    def labels(self, rel: str) -> list[str]:
        """The labels in the annotation file of ``rel``, sorted."""
        document = json.loads(self.annotation_file(rel).read_text(encoding="utf-8"))
        return sorted(a["label"] for a in document["annotations"])


def write_item(source: Path, rel: str = "img/x.jpg", data: bytes = b"pixels") -> None:
    """A local file ``rel`` under the sync root."""
    (source / rel).parent.mkdir(parents=True, exist_ok=True)
    (source / rel).write_bytes(data)
