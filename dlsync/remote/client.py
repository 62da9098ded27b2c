"""``DataloopClient``: typed operations on projects, datasets, items and annotations.

Use it as ``async with DataloopClient(settings, credentials) as client``. All requests share one
pooled aiohttp session and one pacer (``dlsync.remote.pacer``); failures arrive as
``dlsync.errors`` classes (``dlsync.remote.session`` translates them).

The operations live in one mixin per concern: ``projects`` (projects, datasets), ``items``
(listing, lookup, metadata, moves, deletes), ``transfer`` (upload, download), ``annotations``
(list, post exactly once, delete), ``users`` (who the token is), ``ontology`` (recipes,
labels), ``tasks`` (annotation tasks), on ``queries`` (keyset paging) and ``calls``
(settings, pacer, session).

Which calls are retried by the pacer (``Idempotency``): reads, PATCH/PUT, deletes and uploads in
``mode=skip`` or ``overwrite`` up to ``blind_retry_max_size`` are SAFE; creating a project,
dataset or folder, posting annotations and larger uploads are UNSAFE and re-sent only when the
remote certainly did not get them (or, for an upload, when a lookup shows it is not there).
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from dlsync.remote.annotations import AnnotationOps
from dlsync.remote.items import ItemOps
from dlsync.remote.ontology import OntologyOps
from dlsync.remote.projects import ProjectOps
from dlsync.remote.tasks import TaskOps
from dlsync.remote.transfer import TransferOps, UploadMode
from dlsync.remote.users import UserOps

__all__ = ["DataloopClient", "UploadMode"]


class DataloopClient(ProjectOps, TransferOps, ItemOps, AnnotationOps, UserOps, OntologyOps,
                     TaskOps):
    """One remote: its settings, credentials, pacer and connection pool."""

    async def __aenter__(self) -> Self:
        await self._session.open()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self._session.close()

    def __repr__(self) -> str:
        return f"DataloopClient(url={self.settings.base_url!r})"
