"""Where the state database lives when no ``--state FILE`` says otherwise, and what lies beside it.

Outside the synced tree, in the user's state directory, so a sync root never uploads its own
state and one database holds every sync pair of the user.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

STATE_FILE = "state.db"
LOGINS_FILE = "logins.json"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def default_state_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$STATE_DIRECTORY/state.db`` (systemd), else the XDG state home, else ``~/.local/state``.

    systemd may list several directories in ``STATE_DIRECTORY`` separated by colons; the first
    one is used.
    """
    env = os.environ if environ is None else environ
    systemd = env.get("STATE_DIRECTORY", "").split(":")[0]
    if systemd:
        return Path(systemd) / STATE_FILE
    xdg = env.get("XDG_STATE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path(env.get("HOME", "~")) / ".local" / "state"
    return base.expanduser() / "dlsync" / STATE_FILE


def lock_path(database: Path, pair: str) -> Path:
    """The lock file of sync pair ``pair``: beside the database, named after both."""
    safe = _UNSAFE.sub("_", pair) or "_"
    return database.with_name(f"{database.name}.{safe}.lock")


def login_store_path(database: Path) -> Path:
    """dlsync's own logins (``dlsync login``, refreshed tokens): beside the state database."""
    return database.with_name(LOGINS_FILE)
