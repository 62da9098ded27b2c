"""The HTTP boundary to the remote: one aiohttp session, auth, refresh, error translation.

Every aiohttp exception and every non-2xx status is turned into a ``dlsync.errors`` class here
and nowhere else. Messages name the method, the path and what the call was about; never a token.

Auth: the bearer token is refreshed ahead of its ``exp`` when a refresh token exists
(``POST {root}/token?default``, reading ``id_token``). A 401 triggers at most one refresh per
request, then an ``AuthError`` naming the remote URL. Without a refresh token an expired token
fails before anything is sent. The credentials' ``renewal`` (``dlsync.remote.chain``) keeps each
refreshed token, and may replace a refused refresh token by a new password login.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import aiohttp
import anyio

from dlsync import __version__, logs
from dlsync.errors import (
    AmbiguousWriteError,
    AuthError,
    BadRequestError,
    ForbiddenError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    RemoteError,
    ServerError,
    TransportError,
)
from dlsync.remote import wire
from dlsync.remote.credentials import Credentials
from dlsync.remote.pacer import Idempotency, Pacer
from dlsync.remote.settings import RemoteSettings
from dlsync.remote.stall import StallWatch
from dlsync.remote.tls import client_tls

BodyFactory = Callable[[StallWatch], AbstractAsyncContextManager[Any]]
"""Makes a request body for one attempt; a body that reports progress tells the watch."""
USER_AGENT = f"dlsync/{__version__} aiohttp/{aiohttp.__version__}"

log = logs.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Reply:
    """A 2xx answer: status, headers and the decoded JSON body (``None`` when empty)."""

    status: int
    headers: Mapping[str, str]
    body: Any


@dataclass(frozen=True, slots=True)
class Request:
    """One request as the call site describes it; re-sent unchanged on retry."""

    method: str
    path: str
    what: str
    idempotency: Idempotency
    params: Mapping[str, str] | None = None
    json: Any = None
    body: BodyFactory | None = None
    headers: Mapping[str, str] | None = None

    def describe(self) -> str:
        """``METHOD /path (what)`` for error messages."""
        return f"{self.method} {self.path}" + (f" ({self.what})" if self.what else "")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _error_message(raw: bytes) -> str:
    try:
        body = json.loads(raw)
    except ValueError:
        return logs.scrub(raw[:200].decode("utf-8", "replace"))
    message = body.get("message") if isinstance(body, dict) else None
    return logs.scrub(str(message if message is not None else body)[:200])


_ITEM_ROUTES = ("/items/", "/annotations/")


def _about_one_item(path: str) -> bool:
    """True for routes about one item or annotation (get, patch, move, delete, its
    annotations); a 403 there fails only that item. Project, dataset, listing and upload
    routes are about the whole pair."""
    return path.startswith(_ITEM_ROUTES)


def status_error(status: int, req: Request, raw: bytes, headers: Mapping[str, str],
                 remote: str) -> RemoteError:
    """The dlsync error for a non-2xx ``status`` answering ``req``."""
    text = f"{req.describe()}: HTTP {status}: {_error_message(raw)}"
    kw: dict[str, Any] = {"status": status, "method": req.method, "url": req.path}
    if status == 403 and _about_one_item(req.path):
        return ForbiddenError(f"{text}; the platform refused access to this item (check its "
                              "permissions); retried next run", **kw)
    if status == 403:
        return AuthError(f"{remote} refused access (HTTP 403) to {req.describe()}: "
                         f"{_error_message(raw)}; check the token's permissions on this "
                         "project and dataset", **kw)
    if status == 401:
        return AuthError(f"{remote} rejected the credentials: {text}", **kw)
    if status == 404:
        return NotFoundError(text, **kw)
    if status == 429:
        return RateLimitedError(text, retry_after=parse_retry_after(headers.get("Retry-After")),
                                method=req.method, url=req.path)
    if status >= 500:
        return ServerError(text, **kw)
    return BadRequestError(text, **kw)


def transport_error(exc: BaseException, req: Request,
                    watch: StallWatch | None = None) -> TransportError:
    """The dlsync error for an aiohttp failure while ``req`` was in flight.

    A connection that was never made, or a body cut off while it was still being written
    (``watch.writing``), is a plain ``TransportError``. Anything later (a reset, a drop, a
    stall, a read timeout) on a call that is not safe to repeat is an ``AmbiguousWriteError``.
    """
    reason = f"{type(exc).__name__}: {logs.scrub(str(exc)) or 'no detail'}"
    kw: dict[str, Any] = {"method": req.method, "url": req.path}
    never_sent = isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
    if watch is not None and watch.writing:
        return TransportError(f"{req.describe()}: the body was cut off before all of it was "
                              f"sent ({reason}); nothing was applied", **kw)
    if never_sent or req.idempotency is Idempotency.SAFE:
        return TransportError(f"{req.describe()}: no reply: {reason}", **kw)
    return AmbiguousWriteError(
        f"{req.describe()}: sent, but no reply ({reason}); it may have been applied", **kw)


class RemoteSession:
    """Authenticated, paced requests to one remote over one pooled aiohttp session."""

    def __init__(self, settings: RemoteSettings, credentials: Credentials, pacer: Pacer) -> None:
        self.settings = settings
        self.credentials = credentials
        self.pacer = pacer
        self._http: aiohttp.ClientSession | None = None
        self._refresh_lock = anyio.Lock()
        self._streamed_body_timeout = aiohttp.ClientTimeout(
            total=None, connect=settings.connect_timeout, sock_read=None)

    async def open(self) -> None:
        """Open the connection pool: the remote's TLS trust, its proxy, the stall timeout.

        A request without a streamed body fails after ``stall_timeout`` seconds without a byte
        of reply (aiohttp's read timeout); one with a streamed body has no read timeout and is
        watched by a ``StallWatch`` instead, which counts the bytes it sends too.
        """
        s = self.settings
        tls = client_tls(s.base_url, s.ca_file, verify=s.verify_ssl)
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=s.max_connections, limit_per_host=0, ssl=tls),
            timeout=aiohttp.ClientTimeout(total=None, connect=s.connect_timeout,
                                          sock_read=s.stall_timeout),
            headers={"User-Agent": USER_AGENT}, proxy=s.proxy, trust_env=False)

    async def close(self) -> None:
        """Close the connection pool."""
        if self._http is not None:
            await self._http.close()
            self._http = None

    @property
    def http(self) -> aiohttp.ClientSession:
        """The open aiohttp session."""
        if self._http is None:
            raise RuntimeError("RemoteSession used outside 'async with DataloopClient(...)'")
        return self._http

    async def request(self, req: Request) -> Reply:
        """Send ``req`` through the pacer; return the 2xx reply or raise a dlsync error."""
        return await self.pacer.call(lambda: self._send_authorized(req),
                                     idempotency=req.idempotency, what=req.describe())

    async def open_stream(self, req: Request) -> aiohttp.ClientResponse:
        """Send ``req`` through the pacer; return the open 2xx response for the caller to read."""
        return await self.pacer.call(lambda: self._open_authorized(req),
                                     idempotency=req.idempotency, what=req.describe())

    async def _send_authorized(self, req: Request) -> Reply:
        token = await self._fresh_token(req)
        try:
            return await self._send(req, token)
        except AuthError as exc:
            if exc.status != 401 or not await self._refresh_after_401(token, req):
                raise
        return await self._send(req, self.credentials.token)

    async def _open_authorized(self, req: Request) -> aiohttp.ClientResponse:
        token = await self._fresh_token(req)
        try:
            return await self._open(req, token)
        except AuthError as exc:
            if exc.status != 401 or not await self._refresh_after_401(token, req):
                raise
        return await self._open(req, self.credentials.token)

    async def _send(self, req: Request, token: str) -> Reply:
        if req.body is None:
            response, raw = await self._exchange(req, token, None)
        else:
            with StallWatch(self.settings.stall_timeout) as watch:
                response, raw = await self._exchange(req, token, watch)
            if watch.stalled:
                raise transport_error(TimeoutError(f"no byte moved for {watch.timeout:g} s"),
                                      req, watch)
        return Reply(response.status, response.headers, self._decode(raw, req))

    async def _exchange(self, req: Request, token: str,
                        watch: StallWatch | None) -> tuple[aiohttp.ClientResponse, bytes]:
        response = await self._open(req, token, watch)
        try:
            return response, await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise transport_error(exc, req, watch) from None
        finally:
            response.release()

    async def _open(self, req: Request, token: str,
                    watch: StallWatch | None = None) -> aiohttp.ClientResponse:
        headers = {"authorization": f"Bearer {token}", **(req.headers or {})}
        url = self.settings.base_url + req.path
        try:
            response = await self._dispatch(req, url, headers, watch)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise transport_error(exc, req, watch) from None
        if watch is not None:
            watch.moved()
        if response.status >= 300:
            try:
                raw = await response.read()
            except (aiohttp.ClientError, TimeoutError):
                raw = b""
            finally:
                response.release()
            raise status_error(response.status, req, raw, response.headers,
                               self.settings.base_url)
        return response

    async def _dispatch(self, req: Request, url: str, headers: dict[str, str],
                        watch: StallWatch | None) -> aiohttp.ClientResponse:
        if req.body is None:
            data = None if req.json is None else wire.json_payload(req.json)
            return await self.http.request(req.method, url, params=req.params, data=data,
                                           headers=headers)
        assert watch is not None, "a streamed body is sent under a StallWatch (_send)"
        async with req.body(watch) as data:
            return await self.http.request(req.method, url, params=req.params, data=data,
                                           headers=headers, timeout=self._streamed_body_timeout)

    @staticmethod
    def _decode(raw: bytes, req: Request) -> Any:
        if not raw:
            return None
        try:
            return wire.loads(raw)
        except ValueError:
            raise ProtocolError(f"{req.describe()}: reply is not JSON: {raw[:80]!r}",
                                method=req.method, url=req.path) from None

    async def _fresh_token(self, req: Request) -> str:
        """The token to send now, refreshed first when it is about to expire."""
        creds = self.credentials
        exp = creds.expires_at
        if exp is None or time.time() < exp - self.settings.refresh_ahead:
            return creds.token
        if creds.refresh_token is None:
            if time.time() >= exp:
                raise AuthError(f"{self.settings.base_url}: the token has expired and no refresh "
                                f"token is configured; {req.describe()} was not sent",
                                method=req.method, url=req.path)
            return creds.token
        async with self._refresh_lock:
            if self.credentials.token == creds.token:
                await self._refresh()
        return self.credentials.token

    async def _refresh_after_401(self, rejected: str, req: Request) -> bool:
        """Refresh once after a 401 on ``rejected``; False when no refresh is possible."""
        if self.credentials.refresh_token is None:
            return False
        async with self._refresh_lock:
            if self.credentials.token == rejected:
                log.info("remote rejected the token, refreshing it", remote=self.settings.base_url,
                         request=req.describe())
                await self._refresh()
        return True

    async def _refresh(self) -> None:
        """Exchange the refresh token for a new access token (``POST {root}/token?default``)."""
        url = f"{self.settings.root_url}/token?default"
        body = {"type": "refresh_token", "refresh_token": self.credentials.refresh_token}
        failure = f"{self.settings.root_url}: token refresh failed"
        try:
            async with self.http.post(url, json=body) as response:
                raw = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportError(f"{failure}: {type(exc).__name__}", method="POST",
                                 url="/token?default") from None
        if response.status == 429 or response.status >= 500:
            raise status_error(response.status, _REFRESH_REQUEST, raw, response.headers,
                               self.settings.root_url)
        if response.status != 200:
            refused = AuthError(f"{failure}: HTTP {response.status}: {_error_message(raw)}",
                                status=response.status, method="POST", url="/token?default")
            if self.credentials.renewal is None:
                raise refused
            self.credentials = await self.credentials.renewal.relogin(self.http, refused)
            return
        token = _id_token(raw)
        if token is None:
            raise ProtocolError(f"{failure}: the reply has no id_token", method="POST",
                                url="/token?default")
        self.credentials = self.credentials.with_token(token)
        log.info("token refreshed", remote=self.settings.base_url,
                 expires_at=self.credentials.expires_at)
        if self.credentials.renewal is not None:
            await self.credentials.renewal.keep(self.credentials)

    async def iter_body(self, response: aiohttp.ClientResponse, chunk: int,
                        req: Request) -> AsyncIterator[bytes]:
        """The body of an open response in chunks; transport failures become dlsync errors."""
        try:
            async for data in response.content.iter_chunked(chunk):
                yield data
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise transport_error(exc, req) from None
        finally:
            response.release()


_REFRESH_REQUEST = Request("POST", "/token?default", "token refresh", Idempotency.SAFE)


def _id_token(raw: bytes) -> str | None:
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    token = body.get("id_token") if isinstance(body, dict) else None
    return token if isinstance(token, str) and token else None
