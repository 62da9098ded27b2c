"""The doctor's checks of the way to the remote: TLS, proxy, auth, connectivity, clock, project.

Each check is a small function returning a ``Row``; the ones that need the network take the
``DoctorClient``. None of them changes anything on the remote.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dlsync import constants
from dlsync.doctor.client import DoctorClient
from dlsync.doctor.rows import Row, Verdict
from dlsync.errors import AuthError, DlsyncError, NotFoundError
from dlsync.remote.credentials import Credentials
from dlsync.remote.session import Reply
from dlsync.remote.settings import RemoteSettings
from dlsync.remote.types import ProjectJson

LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
WHOAMI = "/users/me"


@dataclass(frozen=True, slots=True)
class Contact:
    """The first authenticated answer: the reply, when it was sent and how long it took."""

    reply: Reply
    sent_at: float
    seconds: float


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def is_loopback(url: str) -> bool:
    """Whether ``url`` points at this machine."""
    host = _host(url)
    return host in LOOPBACK or host.startswith("127.")


def tls_row(settings: RemoteSettings) -> Row:
    """HTTPS with verified certificates, or plain HTTP on loopback (the local gate)."""
    url = settings.base_url
    verify = getattr(settings, "verify_ssl", True) is not False
    ca_file = getattr(settings, "ca_file", None)
    texts = ("the connection is encrypted and the server verified",
             "https, verified (or http on loopback)")
    if urlsplit(url).scheme == "https":
        seen = "https, " + (f"certificate verified against {ca_file}" if ca_file else
                            "certificate verified" if verify else "certificate NOT verified")
        return Row.judge("tls", (*texts, seen), verify)
    loopback = is_loopback(url)
    seen = "http on loopback" if loopback else \
        f"plain http to {_host(url)}: tokens travel unencrypted"
    return Row.judge("tls", (*texts, seen), loopback)


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def bypassed(host: str, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` (comma-separated hosts, domain suffixes or ``*``) covers ``host``."""
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        name = entry.rsplit(":", 1)[0] if entry.count(":") == 1 else entry
        name = name.lstrip(".")
        if entry == "*" or (name and (host == name or host.endswith("." + name))):
            return True
    return False


def _proxy_variable(env: Mapping[str, str], scheme: str) -> tuple[str, str] | None:
    for name in (f"{scheme}_proxy", f"{scheme.upper()}_PROXY", "all_proxy", "ALL_PROXY"):
        if env.get(name):
            return name, env[name]
    return None


def proxy_row(settings: RemoteSettings, env: Mapping[str, str], reads_env: bool) -> Row:
    """Which proxy requests to the remote go through, if any (information; always holds)."""
    url = settings.base_url
    texts = ("requests go through the proxy the environment names", "as configured")
    configured = getattr(settings, "proxy", None)
    if isinstance(configured, str) and configured:
        return Row.judge("proxy", (*texts, f"{_without_userinfo(configured)} (settings)"), True)
    found = _proxy_variable(env, urlsplit(url).scheme)
    if found is None:
        return Row.judge("proxy", (*texts, "no proxy"), True)
    name, proxy = found
    shown = f"{_without_userinfo(proxy)} from ${name}"
    no_proxy = env.get("no_proxy") or env.get("NO_PROXY") or ""
    if is_loopback(url):
        seen = f"none: loopback is never proxied ({shown} unused)"
    elif bypassed(_host(url), no_proxy):
        seen = f"none: NO_PROXY excludes {_host(url)} ({shown} unused)"
    elif not reads_env:
        seen = f"none: {shown} is not read by this dlsync"
    else:
        seen = shown
    return Row.judge("proxy", (*texts, seen), True)


def _lifetime(credentials: Credentials, now: float) -> str:
    exp = credentials.expires_at
    if exp is None:
        return "no expiry claim"
    left = exp - now
    if left <= 0:
        return f"expired {_span(-left)} ago"
    return f"expires in {_span(left)}"


def _span(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes == 0:
        return f"{int(seconds)} s"
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def auth_row(credentials: Credentials, who: str | None, failure: AuthError | None) -> Row:
    """Who the token names, when it expires, whether it can be renewed, and if it was accepted."""
    renew = "refresh token present" if credentials.refresh_token else "no refresh token"
    facts = (f"{who or credentials.email or 'unknown user'} (token from {credentials.source}), "
             f"{_lifetime(credentials, time.time())}, {renew}")
    texts = ("the token is accepted", "accepted")
    seen = f"rejected: {failure}; {facts}" if failure else f"accepted: {facts}"
    return Row.judge("auth", (*texts, seen), failure is None)


def no_token_row(problem: DlsyncError) -> Row:
    """The auth row when no token could be loaded at all."""
    return Row.judge("auth", ("the token is accepted", "accepted", f"no token: {problem}"),
                     False)


async def contact(client: DoctorClient) -> Contact:
    """``GET /users/me``, timed; errors propagate for the caller to report."""
    sent_at = time.time()
    start = time.monotonic()
    reply = await client.fetch(WHOAMI, "who am I")
    return Contact(reply, sent_at, time.monotonic() - start)


def connectivity_row(seen: Contact | DlsyncError) -> Row:
    """Whether an authenticated request got an answer."""
    texts = ("the remote answers an authenticated request", f"200 from GET {WHOAMI}")
    if isinstance(seen, Contact):
        return Row.judge("connectivity",
                         (*texts, f"{seen.reply.status} in {seen.seconds * 1000:.0f} ms"), True)
    if isinstance(seen, AuthError):
        seen_text = (f"answered {seen.status}: the credentials were refused" if seen.status
                     else "not sent: the token cannot be used")
        return Row.judge("connectivity", (*texts, seen_text), False)
    return Row.judge("connectivity", (*texts, f"no answer: {seen}"), False)


def who_of(reply: Reply) -> str | None:
    """The caller's e-mail as ``GET /users/me`` answers it, if it does."""
    body: Any = reply.body
    if isinstance(body, dict):
        for key in ("email", "username", "id"):
            if isinstance(body.get(key), str) and "@" in body[key]:
                return str(body[key])
    return None


def clock_row(seen: Contact) -> Row:
    """The local clock against the server's ``Date`` header (1 s resolution)."""
    texts = ("the local clock agrees with the server's",
             f"within {constants.DOCTOR_MAX_SKEW_S:.0f} s of the Date header")
    header = seen.reply.headers.get("Date")
    try:
        server = email.utils.parsedate_to_datetime(header).timestamp() if header else None
    except (TypeError, ValueError):
        server = None
    if server is None:
        return Row("clock", *texts, f"no usable Date header ({header!r})", Verdict.UNCHECKED)
    skew = server - (seen.sent_at + seen.seconds / 2)
    side = "server ahead" if skew > 0 else "server behind"
    ok = abs(skew) <= constants.DOCTOR_MAX_SKEW_S + 1.0  # the header drops the fraction
    return Row.judge("clock", (*texts, f"{skew:+.1f} s ({side})"), ok)


async def project_rows(client: DoctorClient, name: str) -> tuple[list[Row], ProjectJson | None]:
    """Whether the project is visible and its datasets can be listed; the project if found."""
    texts = (f"project {name!r} is visible to this user", "found")
    try:
        project = await client.get_project(name)
    except NotFoundError:
        return [Row.judge("project", (*texts, "not found (dlsync doctor never creates one)"),
                          False)], None
    except AuthError:
        raise
    except DlsyncError as exc:
        return [Row.judge("project", (*texts, f"lookup failed: {exc}"), False)], None
    rows = [Row.judge("project", (*texts, f"found, id {project['id']}"), True)]
    listing = (f"datasets of {name!r} can be listed", "listed")
    try:
        count = await client.query_datasets(project["id"])
    except AuthError:
        raise
    except DlsyncError as exc:
        rows.append(Row.judge("list_datasets", (*listing, f"refused: {exc}"), False))
    else:
        rows.append(Row.judge("list_datasets", (*listing, f"listed ({count} on the first "
                                                           "page)"), True))
    return rows, project
