"""sd_notify without a library: one datagram per message to ``$NOTIFY_SOCKET``.

A name starting with ``@`` is an abstract socket (a leading NUL byte). Without the variable
(not started by systemd) every message is silently dropped.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

from dlsync import logs

_log = logs.get_logger(__name__)


class Notifier:
    """Sends ``READY=1``, ``STATUS=...``, ``WATCHDOG=1`` and ``STOPPING=1`` to systemd."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        self.watchdog_s = int(usec) / 1e6 / 2 if usec.isdigit() and int(usec) > 0 else None

    @property
    def enabled(self) -> bool:
        """Whether a notify socket was given."""
        return bool(self.address)

    def send(self, *lines: str) -> None:
        """Send ``lines`` as one message; a failure is logged once per message, never raised."""
        if not self.address:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self.address)
                sock.sendall("\n".join(lines).encode())
        except OSError as exc:
            _log.warning("sd_notify message not delivered; the service goes on",
                         message=lines[0], error=str(exc))

    def ready(self) -> None:
        """The watchers are up and the initial scan has started."""
        self.send("READY=1", "STATUS=initial scan")

    def status(self, text: str) -> None:
        """A one-line status for ``systemctl status``."""
        self.send(f"STATUS={text}")

    def watchdog(self) -> None:
        """The service is alive."""
        self.send("WATCHDOG=1")

    def stopping(self) -> None:
        """Shutdown has begun."""
        self.send("STOPPING=1", "STATUS=stopping")
