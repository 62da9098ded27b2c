"""The combined-regex prefilter of ``IgnoreRules`` never changes a verdict of the pattern spec."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dlsync.local.ignore import DEFAULT_PATTERNS, IgnoreRules

NAMES = st.sampled_from(["a", "b.tmp", ".git", "x.jpg", "Thumbs.db", "c.part", "~$d", "build",
                         "e.conflict-1.json", ".dlsyncignore", "f.JPG", "g h.png"])
PATTERNS = st.sampled_from(["*.jpg", "!b.tmp", "build/", "/a", "a/**/x.jpg", "!*.part",
                            "**/c.part", "x.jpg", "!/build", "[ab]*", "*.[Jj][Pp][Gg]", "?"])


@settings(max_examples=300, deadline=None)
@given(extra=st.lists(PATTERNS, max_size=5), parts=st.lists(NAMES, min_size=1, max_size=4),
       is_dir=st.booleans())
def test_prefiltered_verdict_equals_the_spec(extra: list[str], parts: list[str],
                                             is_dir: bool) -> None:
    """For any rules (negations included) and path, ``matches`` agrees with pathspec alone."""
    rules = IgnoreRules.from_patterns((*DEFAULT_PATTERNS, *extra))
    path = "/".join(parts)
    expected = bool(rules.spec.match_file(path + "/" if is_dir else path))
    assert rules.matches(path, is_dir) is expected


def test_no_patterns_ignore_nothing() -> None:
    """An empty rule set matches no path (its combined regex can never match)."""
    assert not IgnoreRules.from_patterns([]).matches("a/b.jpg", False)
