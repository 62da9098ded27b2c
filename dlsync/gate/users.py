"""Gate users: e-mail addresses with salted scrypt password hashes, for password logins.

A data directory keeps its users in ``users.json`` (mode 0600), rewritten atomically (a temporary
file renamed over it) under an exclusive ``flock`` on ``users.lock``. The gate reads the file
afresh on every login, so ``dlsync gate user add`` works while the gate is running (the SQLite
database is locked exclusively by the gate; this file is not). An in-memory gate keeps its users
in a dict that dies with it.

A stored hash reads ``scrypt$<n>$<r>$<p>$<salt hex>$<key hex>``; passwords are never stored or
logged.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dlsync import logs

USERS_FILE = "users.json"
_LOCK_FILE = "users.lock"
_SCHEME = "scrypt"
_N, _R, _P = 1 << 14, 8, 1
_SALT_BYTES = 16
_KEY_BYTES = 32
_MAX_PASSWORD = 1024
# compared against when the e-mail is unknown, so a miss costs as much as a wrong password
_DECOY = f"{_SCHEME}${_N}${_R}${_P}${'00' * _SALT_BYTES}${'00' * _KEY_BYTES}"


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=256 * n * r * p, dklen=_KEY_BYTES)


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password`` in the stored form."""
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _derive(password, salt, _N, _R, _P)
    return f"{_SCHEME}${_N}${_R}${_P}${salt.hex()}${key.hex()}"


def password_matches(password: str, stored: str) -> bool:
    """Does ``password`` hash to ``stored``? (constant-time comparison; False if malformed)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != _SCHEME:
            return False
        derived = _derive(password, bytes.fromhex(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(derived, bytes.fromhex(key))


def clean_email(email: Any) -> str:
    """``email`` lower-cased and stripped; ValueError if it is not a plausible address."""
    if not isinstance(email, str):
        raise ValueError(f"e-mail must be a string, got {type(email).__name__}")
    cleaned = email.strip().lower()
    local, at, domain = cleaned.partition("@")
    if not (local and at and domain) or any(c.isspace() or ord(c) < 32 for c in cleaned):
        raise ValueError(f"{email!r} is not an e-mail address")
    return cleaned


def check_password(password: Any) -> str:
    """``password`` if it is usable (a non-empty string of at most 1024 characters)."""
    if not isinstance(password, str) or not password:
        raise ValueError("password must be a non-empty string")
    if len(password) > _MAX_PASSWORD:
        raise ValueError(f"password is longer than {_MAX_PASSWORD} characters")
    return password


class UserStore:
    """The users of one gate: in ``data_dir/users.json``, or in memory when ``data_dir`` is None."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self._dir = data_dir
        self._memory: dict[str, str] = {}
        self._lock = threading.Lock()

    def add(self, email: str, password: str) -> bool:
        """Store ``email`` with ``password``; True if new, False if its password was replaced."""
        email, stored = clean_email(email), hash_password(check_password(password))
        logs.register_secret(password)
        with self._exclusive():
            users = self._read()
            is_new = email not in users
            users[email] = stored
            self._write(users)
        return is_new

    def authenticate(self, email: Any, password: Any) -> str | None:
        """The stored e-mail if ``password`` is right for ``email``; None otherwise."""
        try:
            email, password = clean_email(email), check_password(password)
        except ValueError:
            return None
        stored = self._read().get(email)
        matches = password_matches(password, stored or _DECOY)
        return email if stored is not None and matches else None

    def emails(self) -> list[str]:
        """Every stored e-mail, sorted."""
        return sorted(self._read())

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        with self._lock:
            if self._dir is None:
                yield
                return
            self._dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._dir / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)

    def _read(self) -> dict[str, str]:
        if self._dir is None:
            return dict(self._memory)
        try:
            raw = json.loads((self._dir / USERS_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return {str(u["email"]): str(u["password"]) for u in raw.get("users", [])}

    def _write(self, users: dict[str, str]) -> None:
        if self._dir is None:
            self._memory = dict(users)
            return
        body = {"users": [{"email": e, "password": h} for e, h in sorted(users.items())]}
        tmp = self._dir / f".{USERS_FILE}.{secrets.token_hex(4)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(body, out, indent=2)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self._dir / USERS_FILE)
