"""Reading request bodies: JSON that is malformed is refused with a message, not a crash."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from dlsync.gate.refusal import bad_request


async def json_body(request: web.Request) -> Any:
    """The request's JSON body; Refusal (400) when it is missing or malformed."""
    text = await request.text()
    if not text.strip():
        raise bad_request(f"{request.method} {request.path} needs a JSON body")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise bad_request(f"malformed JSON body: {exc}") from exc


def media_type(request: web.Request) -> str:
    """The request's media type, lower case, without parameters.

    Read directly from the header: aiohttp's ``content_type`` runs the e-mail header parser,
    whose cache misses on every multipart upload (each has its own boundary).
    """
    return request.headers.get("Content-Type", "").partition(";")[0].strip().lower()


def ok(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer."""
    return web.json_response(body, status=status, headers=headers)
