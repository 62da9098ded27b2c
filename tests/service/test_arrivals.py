"""A folder that arrived whole is planned as one root once every one of its files is there."""

from __future__ import annotations

from dlsync.service.scope import Arrivals


def test_a_folder_whose_files_are_all_ready_becomes_one_root() -> None:
    arrivals = Arrivals()
    arrivals.expanded("cams/day1", 3)
    files = ["cams/day1/a.jpg", "cams/day1/sub/b.jpg", "cams/day1/c.jpg", "other.jpg"]
    assert sorted(arrivals.roots(files, pending=[])) == ["cams/day1", "other.jpg"]
    assert arrivals.counts == {}


def test_a_folder_still_settling_waits_and_then_goes_file_by_file() -> None:
    """While some of its files wait the folder is kept; a batch holding only part of it plans
    those files one by one, and the folder is forgotten."""
    arrivals = Arrivals()
    arrivals.expanded("new", 3)
    assert arrivals.roots([], pending=["new/a.jpg", "new/b.jpg", "new/c.jpg"]) == []
    assert arrivals.counts == {"new": 3}
    assert sorted(arrivals.roots(["new/a.jpg", "new/b.jpg"], pending=["new/c.jpg"])) == \
        ["new/a.jpg", "new/b.jpg"]
    assert arrivals.counts == {}
    assert arrivals.roots(["new/c.jpg"], pending=[]) == ["new/c.jpg"]


def test_a_file_that_vanished_keeps_the_folder_file_by_file() -> None:
    arrivals = Arrivals()
    arrivals.expanded("new", 3)
    assert sorted(arrivals.roots(["new/a.jpg", "new/b.jpg"], pending=[])) == \
        ["new/a.jpg", "new/b.jpg"]


def test_a_folder_with_nothing_left_to_come_is_forgotten() -> None:
    arrivals = Arrivals()
    arrivals.expanded("gone", 2)
    assert arrivals.roots(["else.jpg"], pending=[]) == ["else.jpg"]
    assert arrivals.counts == {}


def test_the_outermost_arrived_folder_decides() -> None:
    """A prefix that is not a whole folder name does not count ("new2" is not in "new")."""
    arrivals = Arrivals()
    arrivals.expanded("new", 2)
    roots = arrivals.roots(["new/x/a.jpg", "new/b.jpg", "new2/c.jpg"], pending=[])
    assert sorted(roots) == ["new", "new2/c.jpg"]
