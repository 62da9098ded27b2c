"""dlsync's own logins: tokens ``dlsync login`` got and tokens a refresh renewed, per remote URL.

One JSON file beside the state database (``logins.json``; under systemd in
``$STATE_DIRECTORY``), mode 0600, replaced atomically (temporary file, fsync, rename, directory
fsync) under an exclusive ``flock`` on ``logins.json.lock``, so a service and a ``dlsync login``
never lose each other's entry::

    {"version": 1,
     "logins": {
       "https://gate.dataloop.ai/api/v1": {
         "origin": "dlsync login",             # or "$DLSYNC_TOKEN", "dtlpy login (...)", ...
         "email": "bot@example.com",           # dlsync login only
         "password": {"file": "/etc/dlsync/password"},   # or {"credential": "dlsync-password"};
                                               # absent when the password was typed at a prompt
         "token": "...", "refresh_token": "...",
         "saved_at": "2025-01-01T00:00:00Z"}}}

A password itself is never stored, only where to read it again for a new login.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dlsync import constants, logs
from dlsync.errors import ConfigError

VERSION = 1
FILE_MODE = 0o600
DIR_MODE = 0o700
DLSYNC_LOGIN = "dlsync login"

PasswordKind = Literal["file", "credential"]


def store_key(url: str) -> str:
    """The key of remote ``url``: the API base URL without a trailing slash."""
    return url.rstrip("/")


@dataclass(frozen=True, slots=True)
class PasswordSource:
    """Where a password can be read again: a file path, or a systemd credential name."""

    kind: PasswordKind
    name: str

    def describe(self) -> str:
        """``file PATH`` or ``systemd credential NAME``."""
        return f"file {self.name}" if self.kind == "file" else f"systemd credential {self.name}"

    def read(self, env: Mapping[str, str]) -> str:
        """The password, read now; ``ConfigError`` when it cannot be."""
        path = Path(self.name)
        if self.kind == "credential":
            directory = env.get("CREDENTIALS_DIRECTORY")
            if not directory:
                raise ConfigError(f"cannot read the password: $CREDENTIALS_DIRECTORY is not set "
                                  f"(no {self.describe()})", key=self.name)
            path = Path(directory) / self.name
        try:
            password = path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(f"cannot read the password: {exc.strerror}",
                              source=str(path)) from None
        if not password:
            raise ConfigError("the password file is empty", source=str(path))
        logs.register_secret(password)
        return password

    def to_json(self) -> dict[str, str]:
        """``{"file": PATH}`` or ``{"credential": NAME}``."""
        return {self.kind: self.name}

    @staticmethod
    def from_json(value: Any) -> PasswordSource | None:
        """The source a stored ``password`` value names, or ``None``."""
        if isinstance(value, dict):
            for kind in ("file", "credential"):
                name = value.get(kind)
                if isinstance(name, str) and name:
                    return PasswordSource("file" if kind == "file" else "credential", name)
        return None


def password_source(password_file: Path | None,
                    env: Mapping[str, str]) -> PasswordSource | None:
    """``--password-file``, else the systemd credential ``dlsync-password`` when present, else
    ``None`` (the password is asked for at a prompt and never kept)."""
    if password_file is not None:
        return PasswordSource("file", str(password_file.absolute()))
    directory = env.get("CREDENTIALS_DIRECTORY")
    if directory and (Path(directory) / constants.PASSWORD_CREDENTIAL).is_file():
        return PasswordSource("credential", constants.PASSWORD_CREDENTIAL)
    return None


@dataclass(frozen=True, slots=True)
class StoredLogin:
    """One remote's entry: its tokens, where they first came from, how to log in again."""

    token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    origin: str
    email: str | None = None
    password: PasswordSource | None = None
    saved_at: str = ""

    def __post_init__(self) -> None:
        logs.register_secret(self.token)
        logs.register_secret(self.refresh_token)

    def to_json(self) -> dict[str, Any]:
        """The entry as stored."""
        body: dict[str, Any] = {"origin": self.origin, "token": self.token,
                                "refresh_token": self.refresh_token,
                                "saved_at": self.saved_at or _now()}
        if self.email:
            body["email"] = self.email
        if self.password:
            body["password"] = self.password.to_json()
        return body

    @staticmethod
    def from_json(body: Any) -> StoredLogin | None:
        """The entry ``body`` describes, or ``None`` when it has no token."""
        if not isinstance(body, dict) or not isinstance(body.get("token"), str):
            return None
        refresh, email = body.get("refresh_token"), body.get("email")
        return StoredLogin(token=body["token"],
                           refresh_token=refresh if isinstance(refresh, str) and refresh else None,
                           origin=str(body.get("origin") or DLSYNC_LOGIN),
                           email=email if isinstance(email, str) else None,
                           password=PasswordSource.from_json(body.get("password")),
                           saved_at=str(body.get("saved_at") or ""))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class LoginStore:
    """The ``logins.json`` file at ``path``; every method reads or writes it anew."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"LoginStore({str(self.path)!r})"

    def get(self, url: str) -> StoredLogin | None:
        """The entry of remote ``url``, or ``None``."""
        return StoredLogin.from_json(self._read().get(store_key(url)))

    def put(self, url: str, login: StoredLogin) -> None:
        """Replace the entry of remote ``url`` (the file is rewritten atomically, mode 0600)."""
        with self._locked():
            logins = self._read()
            logins[store_key(url)] = login.to_json()
            self._write(logins)

    def remove(self, url: str) -> bool:
        """Forget remote ``url``; True when it had an entry."""
        with self._locked():
            logins = self._read()
            if logins.pop(store_key(url), None) is None:
                return False
            self._write(logins)
            return True

    def _read(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ConfigError(f"cannot read dlsync's logins: {exc.strerror}",
                              source=str(self.path)) from None
        try:
            body = json.loads(text)
        except ValueError:
            raise ConfigError("dlsync's logins are not valid JSON; delete the file and run "
                              "`dlsync login` again", source=str(self.path)) from None
        logins = body.get("logins") if isinstance(body, dict) else None
        return dict(logins) if isinstance(logins, dict) else {}

    def _write(self, logins: dict[str, Any]) -> None:
        text = json.dumps({"version": VERSION, "logins": logins}, indent=2, sort_keys=True)
        fd, temp = tempfile.mkstemp(prefix=".logins-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                os.fchmod(handle.fileno(), FILE_MODE)
                handle.write(text + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise ConfigError(f"cannot write dlsync's logins: {exc.strerror}",
                              source=str(self.path)) from None
        _fsync_dir(self.path.parent)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
            fd = os.open(self.path.with_name(self.path.name + ".lock"),
                         os.O_RDWR | os.O_CREAT, FILE_MODE)
        except OSError as exc:
            raise ConfigError(f"cannot write dlsync's logins: {exc.strerror}",
                              source=str(self.path)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
