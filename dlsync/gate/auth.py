"""Gate credentials: the signing secret and the access and refresh JWTs signed with it.

Tokens are HS256 JWTs with ``sub``, ``email``, ``iat`` and ``exp``; refresh tokens carry
``typ: "refresh"`` as well, and neither kind is accepted in place of the other. A data directory
keeps its secret in the file ``secret`` (mode 0600, created exclusively on first use); an in-memory
gate draws a random secret that dies with it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from dlsync import logs

SECRET_FILE = "secret"
_SECRET_BYTES = 32
_REFRESH = "refresh"
_ALGORITHM = "HS256"
_VERIFIED_LIMIT = 4096


class BadToken(Exception):
    """A token the gate does not accept; the message says why (never the token itself)."""


@dataclass(frozen=True)
class User:
    """The caller a valid token names."""

    email: str

    @property
    def id(self) -> str:
        """The user id: the e-mail address, as Dataloop uses it in ``creator``."""
        return self.email

    def to_json(self) -> dict[str, Any]:
        """The ``GET /users/me`` body."""
        return {"id": self.email, "email": self.email, "username": self.email.split("@")[0]}


def load_secret(data_dir: Path) -> bytes:
    """The secret of ``data_dir``, created (0600, exclusively) if it does not exist yet."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SECRET_FILE
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(_SECRET_BYTES))
    secret = path.read_text().strip()
    if not secret:
        raise ValueError(f"{path} is empty; delete it to have a new secret created")
    logs.register_secret(secret)
    return secret.encode()


def memory_secret() -> bytes:
    """A random secret for a gate that keeps nothing on disk."""
    secret = secrets.token_hex(_SECRET_BYTES)
    logs.register_secret(secret)
    return secret.encode()


class TokenAuthority:
    """Mints and verifies the gate's tokens with one secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._verified: dict[str, tuple[User, float]] = {}

    def mint(self, email: str, ttl: float, *, refresh: bool = False) -> str:
        """A token for ``email`` valid for ``ttl`` seconds; a refresh token if ``refresh``."""
        now = int(time.time())
        claims: dict[str, Any] = {"sub": email, "email": email, "iat": now, "exp": now + int(ttl)}
        if refresh:
            claims["typ"] = _REFRESH
        token = jwt.encode(claims, self._secret, algorithm=_ALGORITHM)
        logs.register_secret(token)
        return token

    def verify_access(self, token: str) -> User:
        """The user of a valid, unexpired access token; BadToken otherwise.

        Tokens already verified are remembered until they expire, so a client sending the same
        token on every request pays for the signature check once.
        """
        known = self._verified.get(token)
        if known is not None and known[1] > time.time():
            return known[0]
        claims = self._decode(token)
        if claims.get("typ") == _REFRESH:
            raise BadToken("a refresh token cannot be used as an access token")
        user = User(email=str(claims["email"]))
        if len(self._verified) >= _VERIFIED_LIMIT:
            self._verified.clear()
        self._verified[token] = (user, float(claims["exp"]))
        return user

    def verify_refresh(self, token: str) -> User:
        """The user of a valid, unexpired refresh token; BadToken otherwise."""
        claims = self._decode(token)
        if claims.get("typ") != _REFRESH:
            raise BadToken("not a refresh token")
        return User(email=str(claims["email"]))

    def _decode(self, token: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self._secret, algorithms=[_ALGORITHM],
                options={"require": ["exp", "email", "sub", "iat"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise BadToken("token expired") from exc
        except jwt.InvalidTokenError as exc:
            raise BadToken(f"invalid token ({type(exc).__name__})") from exc
        return claims
