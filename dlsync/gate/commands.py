"""``dlsync gate``: serve the local Dataloop-compatible gate, or mint a token for it."""

from __future__ import annotations

import click


@click.group()
def gate() -> None:
    """The local Dataloop-compatible gate (embedded default remote and test server)."""
