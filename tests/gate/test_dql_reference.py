"""DQL on the gate agrees with a plain Python reading of the same filter, for random filters.

The reference follows MongoDB's rules, which Dataloop's DQL is modelled on: ``$ne`` and ``$nin``
match items that lack the field, every other comparison needs the field to be there.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.gate.conftest import GateApi

NUMBERS = [None, 0, 1, 2, 3, 5]
TAGS = [None, "a", "b", "c"]
DEFAULTS: list[Any] = [{"hidden": False}, {"type": "file"}]


def _catalogue() -> list[tuple[str, dict[str, Any]]]:
    files = []
    for i in range(24):
        user: dict[str, Any] = {}
        if NUMBERS[i % len(NUMBERS)] is not None:
            user["n"] = NUMBERS[i % len(NUMBERS)]
        if TAGS[(i // 2) % len(TAGS)] is not None:
            user["tag"] = TAGS[(i // 2) % len(TAGS)]
        files.append((f"/f{i % 3}/item{i:02d}.bin", user))
    return files


FILES = _catalogue()


@pytest.fixture
async def seeded(api: GateApi, dataset_id: str) -> str:
    for path, user in FILES:
        await api.upload(dataset_id, path, path.encode(), metadata={"user": user})
    return dataset_id


def _value(path: str, user: dict[str, Any], field: str) -> Any:
    if field == "name":
        return path.rsplit("/", 1)[1]
    return user.get(field.removeprefix("metadata.user."))


_CHECKS = {
    "$eq": lambda have, want: have is not None and have == want,
    "$ne": lambda have, want: have is None or have != want,
    "$gt": lambda have, want: have is not None and have > want,
    "$lt": lambda have, want: have is not None and have < want,
    "$gte": lambda have, want: have is not None and have >= want,
    "$lte": lambda have, want: have is not None and have <= want,
    "$in": lambda have, want: have is not None and have in want,
    "$nin": lambda have, want: have is None or have not in want,
    "$exists": lambda have, want: (have is not None) == want,
}


def _matches(condition: dict[str, Any], path: str, user: dict[str, Any]) -> bool:
    (key, value), = condition.items()
    if key == "$and":
        return all(_matches(c, path, user) for c in value)
    if key == "$or":
        return any(_matches(c, path, user) for c in value)
    have = _value(path, user, key)
    if not isinstance(value, dict):
        return _CHECKS["$eq"](have, value)
    return all(_CHECKS[op](have, arg) for op, arg in value.items())


_FIELD_VALUES = {
    "metadata.user.n": st.sampled_from([0, 1, 2, 3, 4, 5]),
    "metadata.user.tag": st.sampled_from(["a", "b", "c", "d"]),
    "name": st.sampled_from([f"item{i:02d}.bin" for i in range(0, 30, 3)]),
}


@st.composite
def _condition(draw: st.DrawFn) -> dict[str, Any]:
    field = draw(st.sampled_from(sorted(_FIELD_VALUES)))
    values = _FIELD_VALUES[field]
    op = draw(st.sampled_from(sorted(_CHECKS)))
    if op in ("$in", "$nin"):
        return {field: {op: draw(st.lists(values, max_size=3))}}
    if op == "$exists":
        return {field: {op: draw(st.booleans())}}
    if op == "$eq" and draw(st.booleans()):
        return {field: draw(values)}
    return {field: {op: draw(values)}}


_group = st.recursive(
    _condition(),
    lambda inner: st.builds(lambda op, items: {op: items}, st.sampled_from(["$and", "$or"]),
                            st.lists(inner, min_size=1, max_size=3)),
    max_leaves=6,
)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ands=st.lists(_group, max_size=3), ors=st.lists(_group, max_size=3))
async def test_gate_answers_match_the_reference(
    api: GateApi, seeded: str, ands: list[Any], ors: list[Any]
) -> None:
    """The gate returns exactly the items the reference evaluation selects, with the count."""
    body: dict[str, Any] = {"$and": DEFAULTS + ands}
    if ors:
        body["$or"] = ors
    page = await api.query(seeded, {"filter": body, "resource": "items", "pageSize": 1000})
    expected = sorted(path for path, user in FILES
                      if all(_matches(c, path, user) for c in ands)
                      and (not ors or any(_matches(c, path, user) for c in ors)))
    assert sorted(item["filename"] for item in page["items"]) == expected
    assert page["totalItemsCount"] == len(expected)
