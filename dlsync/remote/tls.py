"""How a remote's TLS certificate is checked: the system's trust store, plus ``ca_file``.

``ca_file`` (a PEM bundle, e.g. a corporate proxy's root) is trusted in addition to the system
store, so a bundle holding only the extra root is enough. ``verify_ssl = false`` turns
certificate checking off for the remote; dlsync warns once per connection pool when it does.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from dlsync import logs
from dlsync.errors import ConfigError

log = logs.get_logger(__name__)


def client_tls(remote: str, ca_file: Path | None, *, verify: bool) -> ssl.SSLContext | bool:
    """What aiohttp's connector takes as ``ssl``: a context, ``True`` for aiohttp's verified
    default, or ``False`` for no checks.

    Without ``ca_file`` the system store is all there is to trust, and aiohttp's default context
    is exactly that (``ssl.create_default_context()``, built when aiohttp is imported, its store
    read at its first handshake: ``dlsync.deferred_trust``), so it is used rather than a second
    one: each parses the system's CA bundle, about 35 ms."""
    if not remote.startswith("https:"):
        return True   # no TLS to this remote: aiohttp needs no context of dlsync's
    if not verify:
        log.warning("TLS certificates of the remote are not checked (verify_ssl = false); "
                    "anyone on the path can read and change the traffic", remote=remote)
        return False
    if ca_file is None:
        return True
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"the CA bundle {ca_file} for {remote} cannot be used: "
                          f"{getattr(exc, 'strerror', None) or exc}",
                          key="ca_file") from None
    return context
