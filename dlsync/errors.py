"""The dlsync error taxonomy, and the two questions everything above the boundary asks of it.

Foreign exceptions (aiohttp, OSError, sqlite3, json) are translated into these classes once, at
the boundary where they happen: the remote client, the filesystem scanner, the state store, the
config loader. Code above that boundary never string-matches a message; it asks
``is_retryable(exc)`` and ``is_fatal(exc)`` and acts on the answer.

    DlsyncError
    ├── ConfigError              bad or missing setting (names the key and the file)    fatal
    ├── UsageError               a command line that cannot be run                        fatal
    ├── LockedError              another run holds this sync pair's lock                  fatal
    ├── SafetyLimitError         a plan broke a safety limit (max-delete); nothing deleted fatal
    ├── StateError               the state database cannot be used (corrupt, locked)     fatal
    │   └── DiskFullError        no space left while writing state                        fatal
    ├── LocalFileError           one local path cannot be read (names the path)           per item
    │   ├── FileChangedError     the file changed while it was read; retry once settled   retryable
    │   └── FileVanishedError    the file was removed before or while it was read         skipped
    ├── AnnotationFileError      an annotation JSON cannot be used (names file, position) per item
    └── RemoteError              anything the remote said or failed to say
        ├── AuthError            401 after refresh: token rejected or expired; a 403 on a  fatal
        │                        project- or dataset-level route (listing, upload, create)
        ├── ForbiddenError       403 on a route about one item (its annotations too)      per item
        ├── NotFoundError        404                                                      per item
        ├── BadRequestError      400/409/413/422 and other 4xx: the request is wrong      per item
        ├── RateLimitedError     429, with the Retry-After the server gave                retryable
        ├── ServerError          500/502/503/504                                          retryable
        ├── TransportError       connection refused/reset, timeout before a reply        retryable
        │   └── AmbiguousWriteError  the request was sent, no reply came: it may have been
        │                            applied; never re-send a non-idempotent write blindly
        ├── ProtocolError        a reply that is not the JSON shape the contract promises per item
        └── IntegrityError       a reply that contradicts what was sent (size mismatch)  retryable
"""

from __future__ import annotations


class DlsyncError(Exception):
    """Base class of every error dlsync raises on purpose."""


class ConfigError(DlsyncError):
    """A setting is missing, unknown or of the wrong type."""

    def __init__(self, message: str, *, key: str | None = None, source: str | None = None) -> None:
        where = ", ".join(part for part in (f"file {source}" if source else "",
                                            f"key {key!r}" if key else "") if part)
        super().__init__(f"{message} ({where})" if where else message)
        self.key = key
        self.source = source


class UsageError(DlsyncError):
    """A command line that cannot be run as given."""


class LockedError(DlsyncError):
    """Another dlsync run holds the lock of this sync pair."""


class SafetyLimitError(DlsyncError):
    """A plan exceeded a safety limit; the guarded actions were not run."""


class EmptyRootError(SafetyLimitError):
    """A root that state tracks files in is missing, empty or unreadable (unmounted?)."""


class UngatedError(SafetyLimitError):
    """A destructive job reached the executor without passing the destruction gate."""


class StateError(DlsyncError):
    """The state database cannot be read or written."""


class DiskFullError(StateError):
    """No space is left on the device that holds the state database."""


class LocalFileError(DlsyncError):
    """One local file cannot be read; only the item it belongs to fails."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class FileChangedError(LocalFileError):
    """The file's size or mtime moved while it was read; it is retried once it settles."""


class FileVanishedError(LocalFileError):
    """The file disappeared before or while it was read; the next scan sees it as gone."""


class AnnotationFileError(DlsyncError):
    """An annotation file cannot be parsed or has the wrong shape."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class RemoteError(DlsyncError):
    """Anything that went wrong talking to the remote.

    ``status`` is the HTTP status when the remote answered, ``None`` when it did not.
    """

    def __init__(self, message: str, *, status: int | None = None, method: str = "",
                 url: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.method = method
        self.url = url


class AuthError(RemoteError):
    """The remote rejected the credentials (after at most one refresh)."""


class ForbiddenError(RemoteError):
    """403 on a route about one item: that item fails (retried next run), the run goes on."""


class NotFoundError(RemoteError):
    """The remote has no such project, dataset, item or annotation."""


class BadRequestError(RemoteError):
    """The remote refused the request as malformed or conflicting; repeating it will not help."""


class RateLimitedError(RemoteError):
    """The remote answered 429; ``retry_after`` is the wait it asked for, in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, status: int = 429,
                 method: str = "", url: str = "") -> None:
        super().__init__(message, status=status, method=method, url=url)
        self.retry_after = retry_after


class ServerError(RemoteError):
    """The remote failed (5xx); the same request may succeed later."""


class TransportError(RemoteError):
    """No usable reply: connection refused or reset, or a timeout."""


class AmbiguousWriteError(TransportError):
    """A write was sent but no reply came: the remote may or may not have applied it."""


class ProtocolError(RemoteError):
    """The remote replied with something that is not the shape the contract promises."""


class IntegrityError(RemoteError):
    """The remote's reply contradicts what was sent (for example a size mismatch)."""


class TruncatedUploadError(IntegrityError):
    """An upload stored fewer (or more) bytes than were sent; ``item_id`` names the item, whose
    fingerprint must not stay (a later run without state would adopt it)."""

    def __init__(self, message: str, item_id: str, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.item_id = item_id


_RETRYABLE: tuple[type[BaseException], ...] = (
    RateLimitedError,
    ServerError,
    TransportError,
    IntegrityError,
    FileChangedError,
)
_FATAL: tuple[type[BaseException], ...] = (
    ConfigError,
    UsageError,
    LockedError,
    SafetyLimitError,
    StateError,
    AuthError,
)


def is_retryable(exc: BaseException) -> bool:
    """True when the same operation may succeed if tried again later.

    An ``AmbiguousWriteError`` is retryable only by a caller that first checks what the remote
    applied; the pacer never re-sends such a write on its own (the call site decides).
    """
    return isinstance(exc, _RETRYABLE)


def is_fatal(exc: BaseException) -> bool:
    """True when the whole run must stop: no other item can succeed either."""
    return isinstance(exc, _FATAL)


def primary(exc: BaseException) -> BaseException:
    """The error that explains ``exc``: inside an exception group, the first fatal dlsync
    error, else the first dlsync error, else ``exc`` itself.

    When the state writer dies of a full disk, the tasks feeding it fail too (their stream is
    closed); the disk is the cause worth reporting, not the broken stream.
    """
    if not isinstance(exc, BaseExceptionGroup):
        return exc
    leaves = list(_leaves(exc))
    for wanted in (is_fatal, lambda e: isinstance(e, DlsyncError)):
        for leaf in leaves:
            if wanted(leaf):
                return leaf
    return exc


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


# Process exit codes; documented in docs/operations.md.
EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_SAFETY = 4
EXIT_LOCKED = 5
EXIT_STATE = 6      # the state database cannot be used: disk full, corrupt, newer schema


def exit_code_for(exc: BaseException) -> int:
    """The process exit code that reports ``exc`` to a scheduler."""
    if isinstance(exc, AuthError):
        return EXIT_AUTH
    if isinstance(exc, SafetyLimitError):
        return EXIT_SAFETY
    if isinstance(exc, LockedError):
        return EXIT_LOCKED
    if isinstance(exc, ConfigError | UsageError):
        return EXIT_USAGE
    if isinstance(exc, StateError):
        return EXIT_STATE
    return EXIT_PARTIAL
