"""The merge-join of local, state and remote listings."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlsync.model import ProblemKind, path_key
from dlsync.push.march import ListingOrderError, Pair, march
from tests.push.factories import local, problem, remote, state


def joined(pairs: Sequence[Pair]) -> list[tuple[str, str]]:
    """Each pair as (path, which sides it has: l, s, r, p for problem)."""
    return [(p.path, "".join(flag for flag, side in
                             (("l", p.local), ("s", p.state), ("r", p.remote), ("p", p.problem))
                             if side is not None)) for p in pairs]


@pytest.mark.parametrize(("locals_", "states", "remotes", "want"), [
    ([], [], [], []),
    (["a"], [], [], [("a", "l")]),
    ([], ["a"], [], [("a", "s")]),
    ([], [], ["a"], [("a", "r")]),
    (["a"], ["a"], ["a"], [("a", "lsr")]),
    (["a", "c"], ["b", "c"], ["a", "b"], [("a", "lr"), ("b", "sr"), ("c", "ls")]),
    # component order: "a/b" sorts before "a b" and "a.txt" (the separator sorts lowest)
    (["a/b", "a b", "a.txt"], ["a b"], ["a/b", "a.txt"],
     [("a/b", "lr"), ("a b", "ls"), ("a.txt", "lr")]),
    (["Z", "a", "é"], ["é"], ["Z"], [("Z", "lr"), ("a", "l"), ("é", "ls")]),
])
def test_match_listings(locals_: list[str], states: list[str], remotes: list[str],
                        want: list[tuple[str, str]]) -> None:
    """Each path appears once, in path_key order, with every side that has it."""
    pairs = list(march([local(p) for p in locals_], [state(p) for p in states],
                       [remote(p) for p in remotes]))
    assert joined(pairs) == want


def test_problem_directory_hides_its_tracked_files() -> None:
    """Files under a directory the scan could not read carry its problem, siblings do not."""
    pairs = list(march([local("a"), problem("d"), local("d.txt")],
                       [state("d/x"), state("d/y/z"), state("d.txt")],
                       [remote("d/x"), remote("e")]))
    assert joined(pairs) == [("a", "l"), ("d", "p"), ("d/x", "srp"), ("d/y/z", "sp"),
                             ("d.txt", "ls"), ("e", "r")]
    assert pairs[2].problem is not None and pairs[2].problem.path == "d"


def test_unjoinable_problems_are_left_out() -> None:
    """Undecodable and duplicate-name problems do not enter the join."""
    pairs = list(march([local("a"), problem("a", ProblemKind.DUPLICATE_NAME),
                        problem("b\\xff", ProblemKind.UNDECODABLE_NAME)], [], []))
    assert joined(pairs) == [("a", "l")]


@pytest.mark.parametrize("side", ["local", "state", "remote"])
def test_out_of_order_input_raises(side: str) -> None:
    """An input that goes backwards or repeats a path stops the march with a clear error."""
    inputs: dict[str, list[object]] = {"local": [], "state": [], "remote": []}
    make = {"local": local, "state": state, "remote": remote}[side]
    inputs[side] = [make("b"), make("a")]
    with pytest.raises(ListingOrderError, match=f"{side}.*out of order: 'a' came after 'b'"):
        list(march(inputs["local"], inputs["state"], inputs["remote"]))  # type: ignore[arg-type]


def test_march_streams_one_element_ahead() -> None:
    """The march pulls from each input only as far as the pair it yields needs."""
    pulled: list[str] = []

    def counting(paths: list[str]):  # type: ignore[no-untyped-def]
        for p in paths:
            pulled.append(p)
            yield local(p)

    pairs = march(counting(["a", "b", "c", "d"]), [], [])
    next(pairs)
    assert pulled == ["a", "b"]


names = st.text(alphabet="ab/é .", min_size=1, max_size=6).filter(
    lambda s: "//" not in s and not s.startswith("/") and not s.endswith("/"))


def sorted_unique(paths: list[str]) -> list[str]:
    return sorted(set(paths), key=path_key)


@given(st.lists(names), st.lists(names), st.lists(names))
def test_every_key_exactly_once_in_order(a: list[str], b: list[str], c: list[str]) -> None:
    """For any sorted inputs, the output covers the union of keys exactly once, in order."""
    la, sb, rc = sorted_unique(a), sorted_unique(b), sorted_unique(c)
    pairs = list(march([local(p) for p in la], [state(p) for p in sb], [remote(p) for p in rc]))
    assert [p.path for p in pairs] == sorted_unique(la + sb + rc)
    for p in pairs:
        assert (p.local is not None, p.state is not None, p.remote is not None) == (
            p.path in la, p.path in sb, p.path in rc)
