"""Which HTTP proxy a remote is reached through: from the environment, never for loopback.

``HTTPS_PROXY``/``HTTP_PROXY`` (and the lower-case spellings, which win) pick the proxy for the
remote URL's scheme and ``NO_PROXY`` exempts hosts, as ``requests`` (and so dtlpy) reads it: a
comma-separated list of host names (``example.com`` and ``.example.com`` both cover the domain
and its subdomains), ``host:port``, IP addresses, CIDR networks, or ``*`` for every host.

On top of that a loopback host (``localhost``, ``127.0.0.0/8``, ``::1``) is never proxied,
whatever ``NO_PROXY`` says: the embedded gate and a gate on this machine are reached directly
even where a corporate proxy is configured for all else. Credentials in the proxy URL
(``http://user:pass@proxy:3128``) are sent to the proxy.

The decision is made once per remote: every request of a remote goes to the same host.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit


def proxy_for(url: str, env: Mapping[str, str]) -> str | None:
    """The proxy URL for requests to ``url`` under environment ``env``, or ``None`` (direct)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if is_loopback(host):
        return None
    proxies = _environment_proxies(env)
    proxy = proxies.get(parts.scheme)
    if not proxy:
        return None
    if _exempt(host.lower(), parts.port, proxies.get("no", "")):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` (and ``*.localhost``) and loopback addresses."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _environment_proxies(env: Mapping[str, str]) -> dict[str, str]:
    """``{"http": ..., "https": ..., "no": ...}`` from ``env`` (lower-case names win)."""
    found: dict[str, str] = {}
    for name, value in env.items():
        key = name.lower()
        if value and key.endswith("_proxy") and (key not in found or name == key):
            found[key] = value
    return {key[: -len("_proxy")]: value for key, value in found.items()}


def _exempt(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` names ``host`` (and ``port``)."""
    for raw in no_proxy.replace(" ", "").split(","):
        entry = raw.lower()
        if not entry:
            continue
        if entry == "*" or _network_holds(entry, host):
            return True
        name, _, entry_port = entry.rpartition(":") if _has_port(entry) else (entry, "", "")
        if entry_port and str(port) != entry_port:
            continue
        name = name.lstrip(".")
        if host == name or host.endswith("." + name):
            return True
    return False


def _has_port(entry: str) -> bool:
    return entry.count(":") == 1 and entry.rpartition(":")[2].isdigit()


def _network_holds(entry: str, host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")) in ipaddress.ip_network(entry.strip("[]"),
                                                                              strict=False)
    except ValueError:
        return False
