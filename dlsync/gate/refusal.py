"""The one exception gate code raises to answer a request with an error status and a message."""

from __future__ import annotations


class Refusal(Exception):
    """A request the gate refuses: answered with ``status`` and ``{"message", "status"}``.

    Raised before anything is changed, so a refused request never leaves a partial write.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> Refusal:
    """A 400 refusal with ``message``."""
    return Refusal(400, message)


def not_found(kind: str, key: str) -> Refusal:
    """A 404 refusal naming the missing ``kind`` and its ``key``."""
    return Refusal(404, f"{kind} not found: {key}")
