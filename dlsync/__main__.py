"""``python -m dlsync`` runs the command line."""

from dlsync.cli import entry

entry()
