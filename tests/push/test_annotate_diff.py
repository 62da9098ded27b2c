"""``diff_annotations``: what an item step posts, replaces and removes."""

from __future__ import annotations

import json

from dlsync.local.annotations import AnnotationSet, parse_annotations
from dlsync.push.annotate import diff_annotations


def _set(*labels: str) -> AnnotationSet:
    return parse_annotations(json.dumps([{"type": "class", "label": label}
                                         for label in labels]).encode(), "a.json")


def test_nothing_owned_posts_every_annotation_in_file_order_repeats_included() -> None:
    """A first upload (state knows nothing dlsync made on the item) posts the whole file."""
    wanted = _set("cat", "dog", "cat")
    diff = diff_annotations(wanted, ())
    assert diff.post == wanted.annotations
    assert (diff.keep, diff.replace, diff.remove, diff.removed) == ((), (), (), 0)
    assert diff_annotations(None, ()).post == ()


def test_owned_annotations_are_kept_replaced_or_removed_by_count() -> None:
    """What dlsync owns is kept while the file still wants it (counted); a drop is a
    replacement while something is posted, a net removal beyond that."""
    cat, dog, fox = (a.hash for a in _set("cat", "dog", "fox").annotations)
    owned = ((cat, "1"), (cat, "2"), (dog, "3"), (fox, "4"))
    diff = diff_annotations(_set("cat", "bird"), owned)
    assert diff.keep == ((cat, "1"),)
    assert [a.body["label"] for a in diff.post] == ["bird"]
    assert len(diff.replace) == 1 and len(diff.remove) == 2
    assert set(diff.replace + diff.remove) == {(cat, "2"), (dog, "3"), (fox, "4")}
    assert diff.removed == 3


def test_no_file_removes_everything_owned() -> None:
    """A gone annotation file leaves every owned annotation as a net removal."""
    owned = (("h1", "1"), ("h2", "2"))
    diff = diff_annotations(None, owned)
    assert (diff.keep, diff.post, diff.replace) == ((), (), ())
    assert sorted(diff.remove) == sorted(owned)
