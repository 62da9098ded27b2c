"""``ProjectOps``: projects and datasets, found by name and created at most once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast
from urllib.parse import quote

from dlsync.errors import BadRequestError, NotFoundError, ProtocolError, ServerError, TransportError
from dlsync.remote import dql, replies
from dlsync.remote.calls import UNSAFE, ClientCore, form
from dlsync.remote.types import DatasetJson, DirectoryNodeJson, ProjectJson

Find = Callable[[], Awaitable[list[dict[str, Any]]]]
Post = Callable[[], Awaitable[dict[str, Any]]]


class ProjectOps(ClientCore):
    """Get or create projects and datasets; read a dataset and its folder tree."""

    async def get_project(self, name: str, *, create: bool = False) -> ProjectJson:
        """The project called ``name``; created when missing and ``create`` is set."""
        found = await self._projects_named(name)
        if len(found) == 1:
            return cast(ProjectJson, found[0])
        if found:
            raise ProtocolError(f"{len(found)} projects are named {name!r} on "
                                f"{self.settings.base_url}; expected one")
        if not create:
            raise NotFoundError(f"no project named {name!r} on {self.settings.base_url}")
        return cast(ProjectJson, await self._create_once(
            lambda: self._projects_named(name), lambda: self._post_project(name),
            f"create project {name!r}"))

    async def _post_project(self, name: str) -> dict[str, Any]:
        reply, req = await self._call("POST", "/projects", f"create project {name!r}", UNSAFE,
                                      body=form({"name": name}))
        return dict(replies.entity(reply.body, req))

    async def _create_once(self, find: Find, post: Post, what: str) -> dict[str, Any]:
        """``post`` a create so that it is applied at most once.

        After a failure that may have applied it (5xx, no reply) this loop decides to try again;
        the pacer's ``RetryBudget`` says when (backoff, attempt cap, total wait). After that
        wait it looks for the entity with ``find`` and posts again only when it is not there. A
        409 (someone else created it first, e.g. another pair of the same service) returns
        theirs.
        """
        budget = self.pacer.retry_budget(what)
        while True:
            try:
                return await post()
            except BadRequestError as exc:
                found = await find() if exc.status == 409 else []
                if len(found) == 1:
                    return found[0]
                raise
            except (ServerError, TransportError) as exc:
                if not await budget.wait(exc, then="look for it, post again if missing"):
                    raise
            found = await find()
            if len(found) == 1:
                return found[0]

    async def _projects_named(self, name: str) -> list[dict[str, Any]]:
        """Projects called ``name`` (a 404 from the lookup means none)."""
        try:
            reply, req = await self._call("GET", f"/projects/{quote(name, safe='')}/name",
                                          f"project {name!r}")
        except NotFoundError:
            return []
        return replies.entities(reply.body, req)

    async def get_dataset(self, project_id: str, name: str, *,
                          create: bool = False) -> DatasetJson:
        """The dataset ``name`` in project ``project_id``; created when missing and asked."""
        found = await self._datasets_named(project_id, name)
        if len(found) == 1:
            return cast(DatasetJson, found[0])
        if found:
            raise ProtocolError(f"dataset {name!r} in project {project_id}: "
                                f"{len(found)} datasets have this name")
        if not create:
            raise NotFoundError(f"no dataset named {name!r} in project {project_id}")
        return cast(DatasetJson, await self._create_once(
            lambda: self._datasets_named(project_id, name),
            lambda: self._post_dataset(project_id, name), f"create dataset {name!r}"))

    async def _datasets_named(self, project_id: str, name: str) -> list[dict[str, Any]]:
        reply, req = await self._call("POST", "/datasets/query", f"dataset {name!r}",
                                      json=dql.datasets_by_name(project_id, name),
                                      headers={"user_query": "true"})
        return list(replies.page(reply.body, req)["items"])

    async def _post_dataset(self, project_id: str, name: str) -> dict[str, Any]:
        body = {"name": name, "projects": [project_id], "createDefaultRecipe": True}
        reply, req = await self._call("POST", "/datasets", f"create dataset {name!r}", UNSAFE,
                                      json=body)
        return dict(replies.entity(reply.body, req))

    async def get_dataset_by_id(self, dataset_id: str) -> DatasetJson:
        """The dataset with id ``dataset_id``."""
        reply, req = await self._call("GET", f"/datasets/{dataset_id}", f"dataset {dataset_id}")
        return cast(DatasetJson, replies.entity(reply.body, req))

    async def directory_tree(self, dataset_id: str) -> DirectoryNodeJson:
        """The folder tree of a dataset: ``{"value": <dir item>, "children": [...]}``."""
        reply, req = await self._call("GET", f"/datasets/{dataset_id}/directoryTree",
                                      f"dataset {dataset_id}")
        if not isinstance(reply.body, dict) or not isinstance(reply.body.get("value"), dict):
            raise ProtocolError(f"{req.describe()}: the tree has no 'value' object")
        return cast(DirectoryNodeJson, reply.body)
