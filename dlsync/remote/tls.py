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
    """What aiohttp's connector takes as ``ssl``: a context, or ``False`` for no checks."""
    if not remote.startswith("https:"):
        return True   # no TLS to this remote: aiohttp needs no context of dlsync's
    if not verify:
        log.warning("TLS certificates of the remote are not checked (verify_ssl = false); "
                    "anyone on the path can read and change the traffic", remote=remote)
        return False
    context = ssl.create_default_context()
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"the CA bundle {ca_file} for {remote} cannot be used: "
                              f"{getattr(exc, 'strerror', None) or exc}",
                              key="ca_file") from None
    return context
