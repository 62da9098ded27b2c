"""DQL, the JSON query language of Dataloop list endpoints: validated and compiled to SQLite.

Supported (the subset dtlpy produces): a ``filter`` whose ``$and`` (all of) and ``$or`` (any of)
lists are siblings, nested ``$and``/``$or`` groups, conditions ``{"field": value}`` (equality) or
``{"field": {"$op": value}}`` with ``$eq $ne $gt $lt $gte $lte $in $nin $exists`` (as in MongoDB,
``$ne`` and ``$nin`` also match items that lack the field; the others never do), dotted fields
(``metadata.user.batch``), ``*`` (within one path segment) and ``**`` (across segments) globs in
string values of ``$eq``/``$ne``, ``sort``, ``page`` and ``pageSize``. Anything else is refused with
a message naming the offending part, before any SQL runs.

Fields mapped to a ``JsonArray`` (``metadata.system.refs`` of items) follow MongoDB's array rules: a
condition on the array or on a field of its elements (``metadata.system.refs.id``) holds when some
element satisfies it (``$ne``/``$nin``: when none equals), ``{"field": []}`` holds for an empty or
missing array, and ``{"field": {"$match": {...}}}`` holds when one element satisfies the whole inner
condition (``$elemMatch``; nested objects in it are dotted paths, ``{"metadata": {"status": "x"}}``
is ``{"metadata.status": "x"}``).

Keyset clauses (``{"id": {"$gt": ...}}`` at the top of ``$and``) are kept apart so the total count
of the filtered query can be computed once and reused for every page.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dlsync.constants import GATE_MAX_PAGE_SIZE
from dlsync.gate.refusal import bad_request

_COMPARISONS = {"$eq": "=", "$ne": "!=", "$gt": ">", "$lt": "<", "$gte": ">=", "$lte": "<="}
_SEGMENT = re.compile(r"^[A-Za-z0-9_@-]+$")
_DIRECTIONS = {"ascending": "ASC", "descending": "DESC", 1: "ASC", -1: "DESC"}
_TOP = "\U0010ffff"
Scalar = str | int | float | bool | None
_NEGATIONS = {"$ne": "$eq", "$nin": "$in"}


class JsonArray(str):
    """A field map entry: a JSON array in ``doc``, by its path (``$.metadata.system.refs``)."""


def json_path(segments: list[str]) -> str:
    """The SQLite JSON path of dotted-field ``segments`` (already checked against ``_SEGMENT``)."""
    return "$" + "".join(f'."{s}"' for s in segments)


def _negation(ops: dict[str, Any]) -> dict[str, Any] | None:
    """For a negative array condition (``$ne``, ``$nin``, ``$exists: false``): its positive twin."""
    if len(ops) != 1:
        return None
    op, arg = next(iter(ops.items()))
    if op in _NEGATIONS:
        return {_NEGATIONS[op]: arg}
    return {"$exists": True} if op == "$exists" and arg is False else None


def flatten_match(condition: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A ``$match`` condition with nested objects turned into dotted paths; operators kept."""
    flat: dict[str, Any] = {}
    for key, value in condition.items():
        nested = isinstance(value, dict) and value and not any(k.startswith("$") for k in value)
        if nested and not key.startswith("$"):
            flat.update(flatten_match(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


@dataclass(frozen=True)
class CompiledQuery:
    """SQL pieces for one DQL body. ``where`` includes keyset clauses, ``count_where`` does not."""

    where: str
    params: tuple[Any, ...]
    count_where: str
    count_params: tuple[Any, ...]
    count_key: str
    order_by: str
    page: int
    page_size: int
    keyset: bool


@functools.lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """The regex of a DQL glob: ``**`` spans folders, ``*`` stays within one path segment."""
    out = []
    for i, piece in enumerate(pattern.split("**")):
        if i:
            out.append(".*")
        out.append("[^/]*".join(re.escape(part) for part in piece.split("*")))
    return re.compile("".join(out), re.DOTALL)


def sql_regexp(pattern: str, value: Any) -> bool:
    """SQLite ``REGEXP`` function: does ``value`` match the DQL glob ``pattern`` in full."""
    return isinstance(value, str) and glob_regex(pattern).fullmatch(value) is not None


class _Compiler:
    """Turns DQL conditions into SQL text, collecting bound parameters."""

    def __init__(self, fields: Mapping[str, str], source: str = "doc") -> None:
        self._fields = fields
        self._source = source
        self.params: list[Any] = []

    def field(self, name: Any) -> str:
        if not isinstance(name, str) or not name:
            raise bad_request(f"DQL field name must be a non-empty string, got {name!r}")
        if isinstance(self._fields.get(name), JsonArray):
            raise bad_request(f"DQL field {name!r} is an array: filter on it, not sort by it")
        if name in self._fields:
            return self._fields[name]
        segments = name.split(".")
        if not all(_SEGMENT.match(s) for s in segments):
            raise bad_request(f"DQL field {name!r} has characters outside [A-Za-z0-9_@-]")
        return f"json_extract({self._source}, '{json_path(segments)}')"

    def group(self, conditions: Any, joiner: str, where: str) -> str:
        if not isinstance(conditions, list):
            raise bad_request(f"DQL {where} must be a list of conditions, got {conditions!r}")
        if not conditions:
            return "1" if joiner == "AND" else "0"
        return "(" + f" {joiner} ".join(self.condition(c) for c in conditions) + ")"

    def condition(self, condition: Any) -> str:
        if not isinstance(condition, dict) or not condition:
            raise bad_request(f"a DQL condition must be a non-empty object, got {condition!r}")
        return " AND ".join(self.term(key, value) for key, value in condition.items())

    def term(self, key: str, value: Any) -> str:
        if key == "$and":
            return self.group(value, "AND", "$and")
        if key == "$or":
            return self.group(value, "OR", "$or")
        if key.startswith("$"):
            raise bad_request(f"unknown DQL operator {key!r} where a field name was expected")
        array = self.array_of(key)
        if array is not None:
            return self.array_term(array, key, value)
        if isinstance(value, dict) and "$match" in value:
            raise bad_request(f"DQL $match needs an array field, and {key!r} is not one")
        return self.on_expr(self.field(key), key, value)

    def on_expr(self, expr: str, key: str, value: Any) -> str:
        if not isinstance(value, dict):
            return self.compare(expr, "$eq", value, key)
        if not value:
            raise bad_request(f"DQL condition on {key!r} is an empty object")
        return " AND ".join(self.operator(expr, key, op, arg) for op, arg in value.items())

    def array_of(self, key: str) -> str | None:
        """The array field ``key`` is, or reaches into (``refs.id`` → ``refs``), if any."""
        for name, expr in self._fields.items():
            if isinstance(expr, JsonArray) and (key == name or key.startswith(name + ".")):
                return name
        return None

    def array_term(self, array: str, key: str, value: Any) -> str:
        """A condition on an array field: some element satisfies it (none, for negations)."""
        each = f"json_each({self._source}, '{self._fields[array]}') AS el"
        rest = key[len(array) + 1:]
        if value == [] and not rest:
            return f"NOT EXISTS (SELECT 1 FROM {each})"
        if isinstance(value, dict) and "$match" in value:
            if rest:
                raise bad_request(f"DQL $match applies to the array {array!r}, not to {key!r}")
            return f"EXISTS (SELECT 1 FROM {each} WHERE {self.match(key, value)})"
        element = _Compiler({}, "el.value")
        element.params = self.params
        expr = element.field(rest) if rest else "el.value"
        ops = value if isinstance(value, dict) else {"$eq": value}
        negated = _negation(ops)
        if negated is not None:
            where = element.on_expr(expr, key, negated)
            return f"NOT EXISTS (SELECT 1 FROM {each} WHERE {where})"
        return f"EXISTS (SELECT 1 FROM {each} WHERE {element.on_expr(expr, key, ops)})"

    def match(self, key: str, value: dict[str, Any]) -> str:
        inner = value["$match"]
        if len(value) != 1 or not isinstance(inner, dict) or not inner:
            raise bad_request(f"DQL $match on {key!r} needs one non-empty object of conditions")
        element = _Compiler({}, "el.value")
        element.params = self.params
        return element.condition(flatten_match(inner))

    def operator(self, expr: str, key: str, op: str, arg: Any) -> str:
        if op in _COMPARISONS:
            return self.compare(expr, op, arg, key)
        if op in ("$in", "$nin"):
            return self.membership(expr, op, arg, key)
        if op == "$exists":
            if not isinstance(arg, bool):
                raise bad_request(f"DQL $exists on {key!r} needs true or false, got {arg!r}")
            return f"{expr} IS {'NOT ' if arg else ''}NULL"
        raise bad_request(f"unknown DQL operator {op!r} on field {key!r}")

    def compare(self, expr: str, op: str, arg: Any, key: str = "") -> str:
        scalar = self.scalar(arg, key)
        if scalar is None:
            if op not in ("$eq", "$ne"):
                raise bad_request(f"DQL {op} on {key!r} cannot compare with null")
            return f"{expr} IS {'NOT ' if op == '$ne' else ''}NULL"
        if isinstance(scalar, str) and "*" in scalar and op in ("$eq", "$ne"):
            return self.glob(expr, scalar, negate=op == "$ne")
        self.params.append(scalar)
        if op == "$ne":  # as in MongoDB: a missing field is "not equal" too
            return f"({expr} IS NULL OR {expr} != ?)"
        return f"{expr} {_COMPARISONS[op]} ?"

    def glob(self, expr: str, pattern: str, *, negate: bool) -> str:
        prefix = pattern.split("*", 1)[0]
        if not negate and prefix and pattern == prefix + "**":
            # a whole subtree ("/dir/**"): the prefix range alone decides, no REGEXP per row
            self.params.extend([prefix, prefix + _TOP])
            return f"({expr} >= ? AND {expr} < ?)"
        self.params.append(pattern)
        if negate:
            return f"NOT coalesce({expr} REGEXP ?, 0)"
        if not prefix:
            return f"{expr} REGEXP ?"
        self.params.extend([prefix, prefix + _TOP])
        return f"({expr} REGEXP ? AND {expr} >= ? AND {expr} < ?)"

    def membership(self, expr: str, op: str, arg: Any, key: str) -> str:
        if not isinstance(arg, list):
            raise bad_request(f"DQL {op} on {key!r} needs a list, got {arg!r}")
        values = [self.scalar(v, key) for v in arg]
        if not values:
            return "0" if op == "$in" else "1"
        self.params.extend(values)
        marks = ",".join("?" * len(values))
        if op == "$nin":  # as in MongoDB: a missing field is in none of the values
            return f"({expr} IS NULL OR {expr} NOT IN ({marks}))"
        return f"{expr} IN ({marks})"

    @staticmethod
    def scalar(value: Any, key: str) -> Scalar:
        if value is None or isinstance(value, str | bool | int | float):
            return value
        raise bad_request(f"DQL value for {key!r} must be a string, number, boolean or null, "
                          f"got {type(value).__name__}")


def _is_keyset(condition: Any) -> bool:
    if not isinstance(condition, dict) or list(condition) != ["id"]:
        return False
    op = condition["id"]
    return isinstance(op, dict) and len(op) == 1 and next(iter(op)) in ("$gt", "$lt")


def _split_filter(raw: Any) -> tuple[dict[str, Any], list[Any]]:
    """(the filter without top-level keyset clauses, those clauses)."""
    if raw is None:
        return {}, []
    if not isinstance(raw, dict):
        raise bad_request(f"DQL 'filter' must be an object, got {type(raw).__name__}")
    rest = dict(raw)
    ands = rest.get("$and")
    if not isinstance(ands, list):
        return rest, []
    rest["$and"] = [c for c in ands if not _is_keyset(c)]
    return rest, [c for c in ands if _is_keyset(c)]


def _compile_filter(fields: Mapping[str, str], condition: dict[str, Any]) -> tuple[str, list[Any]]:
    compiler = _Compiler(fields)
    where = compiler.condition(condition) if condition else "1"
    return where, compiler.params


def _order_by(fields: Mapping[str, str], sort: Any) -> str:
    if sort is None:
        sort = {}
    if not isinstance(sort, dict):
        raise bad_request(f"DQL 'sort' must be an object of field: direction, got {sort!r}")
    compiler = _Compiler(fields)
    parts = []
    for name, direction in sort.items():
        if direction not in _DIRECTIONS:
            raise bad_request(f"DQL sort direction for {name!r} must be 'ascending' or "
                              f"'descending', got {direction!r}")
        parts.append(f"{compiler.field(name)} {_DIRECTIONS[direction]}")
    if "id" not in sort:
        parts.append(f"{fields['id']} ASC")
    return ", ".join(parts)


def _paging(body: Mapping[str, Any]) -> tuple[int, int]:
    page = body.get("page", 0)
    size = body.get("pageSize", GATE_MAX_PAGE_SIZE)
    for name, value in (("page", page), ("pageSize", size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise bad_request(f"DQL '{name}' must be a non-negative integer, got {value!r}")
    if size == 0:
        raise bad_request("DQL 'pageSize' must be at least 1")
    return page, min(size, GATE_MAX_PAGE_SIZE)


@dataclass(frozen=True)
class Join:
    """How a ``join`` on another resource narrows a query.

    ``template`` is SQL with ``{where}`` for the joined filter, e.g.
    ``id IN (SELECT item_id FROM annotations WHERE {where})``; ``fields`` are the joined
    resource's field map.
    """

    fields: Mapping[str, str]
    template: str


def _join(raw: Any, joins: Mapping[str, Join]) -> tuple[str, list[Any]]:
    """SQL and parameters of a DQL ``join`` (``{"on": {"resource": ...}, "filter": {...}}``)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("on"), dict):
        raise bad_request("DQL 'join' must be an object with 'on' and 'filter'")
    resource = raw["on"].get("resource")
    if resource not in joins:
        raise bad_request(f"DQL join on resource {resource!r} is not served; "
                          f"joinable here: {sorted(joins)}")
    condition = raw.get("filter") or {}
    if not isinstance(condition, dict):
        raise bad_request("DQL join 'filter' must be an object")
    where, params = _compile_filter(joins[resource].fields, condition)
    return joins[resource].template.format(where=where), params


def compile_query(body: Any, fields: Mapping[str, str],
                  joins: Mapping[str, Join] | None = None) -> CompiledQuery:
    """Validate a DQL ``body`` and compile it against ``fields`` (DQL name → SQL expression).

    Fields not in ``fields`` are read from the JSON column ``doc``; ``joins`` names the resources
    a ``join`` may refer to. Raises Refusal (400).
    """
    if not isinstance(body, dict):
        raise bad_request(f"DQL body must be a JSON object, got {type(body).__name__}")
    base, keysets = _split_filter(body.get("filter"))
    count_where, count_params = _compile_filter(fields, base)
    count_key = json.dumps(base, sort_keys=True)
    if body.get("join") is not None:
        join_where, join_params = _join(body["join"], joins or {})
        count_where, count_params = f"({count_where}) AND {join_where}", count_params + join_params
        count_key += json.dumps(body["join"], sort_keys=True)
    where, params = count_where, list(count_params)
    if keysets:
        key_where, key_params = _compile_filter(fields, {"$and": keysets})
        where, params = f"({count_where}) AND {key_where}", params + key_params
    page, size = _paging(body)
    return CompiledQuery(
        where=where, params=tuple(params), count_where=count_where,
        count_params=tuple(count_params), count_key=count_key,
        order_by=_order_by(fields, body.get("sort")), page=page, page_size=size,
        keyset=bool(keysets),
    )
