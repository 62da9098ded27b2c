"""A gate in its own process (``dlsync gate serve --port 0 --memory``), for memory measurements."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass

URL = re.compile(r"(https?://[^\s'\"]+/api/v1)")
JWT = re.compile(r"(eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)")


@dataclass(frozen=True)
class GateProcess:
    """A running gate subprocess: its API base URL and an access token it printed."""

    process: subprocess.Popen[str]
    url: str
    token: str

    @property
    def root_url(self) -> str:
        return self.url.removesuffix("/api/v1")

    def stop(self) -> None:
        """Terminate the gate and wait for it."""
        self.process.terminate()
        if self.process.stdout is not None:
            self.process.stdout.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_gate(timeout: float = 30.0) -> GateProcess:
    """Start the gate on a free port; read its URL and token from what it prints."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dlsync", "gate", "serve", "--port", "0", "--memory"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    url = token = None
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while (url is None or token is None) and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        url = url or (m.group(1) if (m := URL.search(line)) else None)
        token = token or (m.group(1) if (m := JWT.search(line)) else None)
    if url is None or token is None:
        process.kill()
        process.wait()
        process.stdout.close()
        raise RuntimeError(f"the gate printed no URL and token: {''.join(seen)[-500:]}")
    return GateProcess(process, url, token)
