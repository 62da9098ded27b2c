"""``dlsync ls``: the items of a dataset folder with their size, annotation count and sync mark."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TextIO

from dlsync.config import RemoteConfig
from dlsync.errors import NotFoundError, UsageError
from dlsync.remote import dql
from dlsync.remote.connect import connect
from dlsync.remote.fingerprint import read_fingerprint
from dlsync.remote.types import ItemJson
from dlsync.units import format_size


def _row(item: ItemJson) -> dict[str, object]:
    system = (item.get("metadata") or {}).get("system") or {}
    return {"id": item["id"], "filename": item.get("filename", ""),
            "size": system.get("size", 0), "annotations": item.get("annotationsCount", 0),
            "dlsync": bool(read_fingerprint(item))}


@dataclass(frozen=True, slots=True)
class DatasetFolder:
    """A folder of a dataset on a remote: what ``dlsync ls`` lists."""

    remote: RemoteConfig
    project: str
    dataset: str
    remote_dir: str = "/"

    @property
    def label(self) -> str:
        """``project/dataset/dir`` as log lines and summaries show it."""
        return f"{self.project}/{self.dataset}{self.remote_dir.rstrip('/') or '/'}"


async def list_folder(folder: DatasetFolder, out: TextIO, *, as_json: bool = False) -> int:
    """Print every file item under ``folder``; return how many there were."""
    async with connect(folder.remote) as connection:
        client = connection.client
        try:
            project_id = (await client.get_project(folder.project))["id"]
            dataset_id = (await client.get_dataset(project_id, folder.dataset))["id"]
        except NotFoundError as exc:
            raise UsageError(str(exc)) from exc
        count = 0
        async for item in client.iter_items(dataset_id, [dql.under_folder(folder.remote_dir)]):
            row = _row(item)
            count += 1
            if as_json:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
            else:
                mark = "*" if row["dlsync"] else " "
                out.write(f"{mark} {format_size(int(str(row['size']))):>10}  "
                          f"{row['annotations']:>4} ann  {row['filename']}\n")
    if not as_json:
        out.write(f"{count} items in {folder.label} on {connection.url} (* = synced by dlsync)\n")
    return count
