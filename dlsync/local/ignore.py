"""Ignore rules: which paths under a sync root the scan passes over.

Three sources, in this order (a later ``!pattern`` can re-include what an earlier one excluded):
the built-in defaults for temporary and partial files (``DEFAULT_PATTERNS``), the gitignore-style
``.dlsyncignore`` file at the sync root, and extra patterns from the config. Matching follows
gitignore semantics (``pathspec.GitIgnoreSpec``); a pattern ending in ``/`` matches directories
only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pathspec

from dlsync import constants
from dlsync.errors import ConfigError

DEFAULT_PATTERNS: tuple[str, ...] = (
    "*.tmp",
    "*.part",
    "*.partial",
    "*.crdownload",
    "~$*",
    ".DS_Store",
    "Thumbs.db",
    ".~lock.*#",
    "*.swp",
    ".dlsync*",          # dlsync's own temporary and state files, and .dlsyncignore itself
    "*.dlsync-part",     # a download `dlsync pull --items` has not finished
    "*.conflict-*.json", # the platform's version of an annotation file in conflict
    ".git/",
)


@dataclass(frozen=True, slots=True)
class IgnoreRules:
    """A compiled set of gitignore-style patterns."""

    spec: pathspec.GitIgnoreSpec
    patterns: tuple[str, ...]

    @classmethod
    def from_patterns(cls, patterns: Iterable[str]) -> IgnoreRules:
        """Compile ``patterns`` (gitignore lines; blank lines and ``#`` comments are skipped)."""
        lines = tuple(patterns)
        return cls(spec=pathspec.GitIgnoreSpec.from_lines(lines), patterns=lines)

    @classmethod
    def for_root(cls, root: Path, extra: Iterable[str] = ()) -> IgnoreRules:
        """The defaults, then ``root/.dlsyncignore`` if it exists, then ``extra``."""
        return cls.from_patterns((*DEFAULT_PATTERNS, *read_ignore_file(root), *extra))

    def matches(self, path: str, is_dir: bool) -> bool:
        """True when ``path`` (relative, POSIX) is ignored; ``is_dir`` enables ``dir/`` patterns."""
        return bool(self.spec.match_file(path + "/" if is_dir else path))


def read_ignore_file(root: Path) -> list[str]:
    """The lines of ``root/.dlsyncignore``, or none when the file does not exist."""
    path = root / constants.IGNORE_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the ignore file: {exc}; fix or remove it",
                          source=str(path)) from exc
    return text.splitlines()
