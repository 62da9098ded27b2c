"""``UserOps``: who the token speaks for (``GET /users/me``)."""

from __future__ import annotations

from typing import Any

from dlsync.remote import replies
from dlsync.remote.calls import ClientCore


class UserOps(ClientCore):
    """The calling user."""

    async def me(self) -> dict[str, Any]:
        """The user JSON of the token in use; an ``AuthError`` when the remote rejects it."""
        reply, req = await self._call("GET", "/users/me", "who am I")
        return dict(replies.entity(reply.body, req))
