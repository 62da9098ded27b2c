"""Parsing, canonicalising and hashing annotation files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlsync import constants
from dlsync.errors import AnnotationFileError
from dlsync.local import annotations as annotation_files
from dlsync.local import document
from dlsync.local.annotations import (
    HASH_KEY,
    canonical_annotation,
    dump_annotation_file,
    load_annotation_file,
    parse_annotations,
)

BOX = {"type": "box", "label": "cat",
       "coordinates": [{"x": 20.0, "y": 10.0, "z": 0}, {"x": 40.5, "y": 30, "z": 0}],
       "metadata": {"system": {"automated": True, "attributes": {}}}}


def write_json(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "a.json"
    path.write_text(json.dumps(document))
    return path


def test_dtlpy_file_loads_with_metadata_and_hashes(tmp_path: Path) -> None:
    """A dtlpy-style file yields its annotations in order, the user metadata and a set hash."""
    second = {"type": "class", "label": "dog"}
    path = write_json(tmp_path, {"_id": "x", "filename": "/a.jpg", "annotations": [BOX, second],
                                 "metadata": {"user": {"batch": 3}, "system": {"size": 1}}})
    loaded = load_annotation_file(path)
    assert [a.body["label"] for a in loaded.annotations] == ["cat", "dog"]
    assert dict(loaded.user_metadata) == {"batch": 3}
    assert len(loaded.set_hash) == 64 and len(loaded.hashes) == 2


def test_bare_list_is_accepted(tmp_path: Path) -> None:
    """A file holding only a list of annotations equals the object form with no metadata."""
    bare = load_annotation_file(write_json(tmp_path, [BOX]))
    wrapped = parse_annotations(json.dumps({"annotations": [BOX]}).encode(), "w.json")
    assert bare == wrapped


def test_server_fields_and_dlsync_hash_do_not_change_the_hash() -> None:
    """What the server adds (ids, creator, dates, system keys, dlsync's hash) is not content."""
    local = canonical_annotation(BOX)
    remote = dict(BOX, id="a1", _id="a1", creator="u@x", createdAt="t", updatedAt="t",
                  updatedBy="u", itemId="i", datasetId="d", url="u", item=None, dataset="d",
                  hash="h", source="sdk", attributes=None,
                  metadata={"system": {"automated": True, "attributes": {}, "clientId": "c"},
                            "user": {HASH_KEY: {"hash": local.hash}}})
    assert canonical_annotation(remote).hash == local.hash


def test_wire_form_round_trips_to_the_same_hash() -> None:
    """to_wire() adds the hash under metadata.user and canonicalises back to the same hash."""
    local = canonical_annotation(BOX)
    wire = local.to_wire()
    assert wire["metadata"]["user"][HASH_KEY] == {"hash": local.hash}
    assert canonical_annotation(wire).hash == local.hash


def test_integral_floats_equal_ints_and_order_does_not_matter() -> None:
    """1.0 and 1 hash alike; reordering annotations keeps the set hash; a label change does not."""
    as_ints = dict(BOX, coordinates=[{"x": 20, "y": 10, "z": 0}, {"x": 40.5, "y": 30.0, "z": 0}])
    assert canonical_annotation(as_ints).hash == canonical_annotation(BOX).hash
    other = {"type": "point", "label": "p", "coordinates": {"x": 1, "y": 2}}
    one = parse_annotations(json.dumps([BOX, other]).encode(), "1")
    two = parse_annotations(json.dumps([other, BOX]).encode(), "2")
    assert one.set_hash == two.set_hash
    relabelled = parse_annotations(json.dumps([dict(BOX, label="dog"), other]).encode(), "3")
    assert relabelled.set_hash != one.set_hash


def test_user_metadata_change_changes_the_set_hash() -> None:
    """The item's metadata.user is part of the set hash."""
    a = parse_annotations(b'{"annotations": [], "metadata": {"user": {"k": 1}}}', "a")
    b = parse_annotations(b'{"annotations": [], "metadata": {"user": {"k": 2}}}', "b")
    assert a.set_hash != b.set_hash


def test_dump_then_load_keeps_every_hash(tmp_path: Path) -> None:
    """dump_annotation_file writes a file that loads back to the same hashes and metadata."""
    original = parse_annotations(json.dumps({"annotations": [BOX], "metadata": {"user": {"k": "é"}}}
                                            ).encode(), "o")
    path = tmp_path / "out.json"
    path.write_bytes(dump_annotation_file([a.to_wire() for a in original.annotations],
                                          {"user": dict(original.user_metadata)}))
    assert load_annotation_file(path) == original


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty file"),
    (b"  \n", "empty file"),
    (b'{"annotations": [', "line 1 column 18"),
    (b'{\n  "annotations": [\n    {"type": "box",,}\n]}', "line 3 column 20"),
    (b"not json", "invalid JSON"),
    (b"\xff\xfe", "not UTF-8"),
    (b'"text"', "root is a string"),
    (b'{"annotations": {}}', "'annotations' is a object"),
    (b'{"annotations": [3]}', "annotation #0 is a number"),
    (b'{"annotations": [{"label": "x"}]}', "no 'type'"),
    (b'{"annotations": [{"type": "box"}]}', "unknown type|no 'label'|coordinates"),
    (b'{"annotations": [{"type": "hexagon", "label": "x"}]}', "unknown type 'hexagon'"),
    (b'[{"type": "box", "label": "x", "coordinates": [{"x": NaN}]}]', "NaN"),
    (b'[{"type": "box", "label": "x", "coordinates": [{"x": Infinity}]}]', "Infinity"),
    (b'[{"type": "box", "label": "x", "coordinates": [{"x": 1e999}]}]', "not finite"),
    (b'[{"type": "box", "label": "x", "coordinates": [{"x": "1"}]}]', "finite numbers"),
    (b'[{"type": "point", "label": "x"}]', "finite numbers"),
    (b'{"metadata": 3}', "'metadata' is a number"),
    (b'[{"type": "class", "label": "x", "metadata": {"user": 3}}]', "'metadata.user' is a number"),
    (b"[" * 100 + b"]" * 100, "nested deeper"),
    (b"[" * 100_000 + b"]" * 100_000, "nested"),
])
def test_bad_files_raise_annotation_file_error_naming_the_file(content: bytes,
                                                               message: str) -> None:
    """Every kind of bad input raises AnnotationFileError with the file name and the cause."""
    with pytest.raises(AnnotationFileError, match=message) as info:
        parse_annotations(content, "dir/bad.json")
    assert str(info.value).startswith("dir/bad.json: ")


def test_oversized_file_is_refused_without_reading(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A file over the size limit is refused by its stat."""
    monkeypatch.setattr(constants, "ANNOTATION_MAX_BYTES", 10)
    path = write_json(tmp_path, [BOX])
    with pytest.raises(AnnotationFileError, match="over the limit"):
        load_annotation_file(path)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    """An annotation file that cannot be opened raises AnnotationFileError with its path."""
    with pytest.raises(AnnotationFileError, match=r"gone\.json"):
        load_annotation_file(tmp_path / "gone.json")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["type", "label", "coordinates", "metadata", "user",
                                       "annotations", "x", "y", "system", HASH_KEY]) | st.text(),
                      children, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_anything_else(data: bytes) -> None:
    """Random bytes either parse or raise AnnotationFileError, nothing else."""
    try:
        parse_annotations(data, "fuzz.json")
    except AnnotationFileError:
        pass


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_never_raises_anything_else(document: object) -> None:
    """Random JSON parses (and dumps back to the same hashes) or raises AnnotationFileError."""
    data = json.dumps(document).encode()
    try:
        loaded = parse_annotations(data, "fuzz.json")
    except AnnotationFileError:
        return
    again = parse_annotations(dump_annotation_file([a.to_wire() for a in loaded.annotations],
                                                   {"user": dict(loaded.user_metadata)}), "re")
    assert again == loaded


annotation_objects = st.fixed_dictionaries(
    {"type": st.sampled_from(["class", "note", "text", "subtitle"]), "label": st.text()},
    optional={"metadata": st.fixed_dictionaries({}, optional={
                  "user": st.dictionaries(st.text(), json_values, max_size=3),
                  "system": st.dictionaries(st.text(), json_values, max_size=3)}),
              "attributes": json_values, "description": st.text() | st.none(),
              "id": st.text(), "coordinates": json_values},
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(annotation_objects, max_size=5))
def test_valid_annotations_round_trip_through_the_wire_form(annotations: list[object]) -> None:
    """Any valid set keeps its hashes through to_wire, dump and load."""
    loaded = parse_annotations(json.dumps({"annotations": annotations}).encode(), "gen.json")
    again = parse_annotations(dump_annotation_file([a.to_wire() for a in loaded.annotations]), "r")
    assert again == loaded


@pytest.mark.parametrize("raw", [
    [],
    [{"type": "box", "label": "car", "coordinates": [{"x": 1.0, "y": 2.5, "z": 0},
                                                     {"x": 10, "y": 20.25, "z": 0.0}],
      "attributes": {"1": "red"}, "id": "a1", "creator": "x@y", "metadata": {
          "system": {"createdAt": "t", "attributes": {"k": 1}}, "user": {"note": "é"}}}],
    [{"type": "class", "label": "ünïcode \\u00e9", "description": "d", "metadata": None},
     {"type": "point", "label": "p", "coordinates": {"x": 1e-7, "y": 3.0, "z": 0}}],
])
@pytest.mark.parametrize("user", [{}, {"batch": 3, "tags": ["a", 1.0]}])
def test_annotation_set_equals_parsing_the_file_it_would_write(
        raw: list[dict[str, object]], user: dict[str, object]) -> None:
    """``annotation_set`` (what a pull decides with) equals parsing the dumped file (what it
    writes and what the push reads back): same hashes, same set hash."""
    from dlsync.local.annotations import annotation_set

    written = parse_annotations(dump_annotation_file(raw, {"user": user} if user else {}),
                                "file")
    direct = annotation_set(raw, user, "direct")
    assert [a.hash for a in direct.annotations] == [a.hash for a in written.annotations]
    assert direct.set_hash == written.set_hash


_TRICKY_VALUES: list[Any] = [
    0.1, 1e-4, 1e-5, 5.968778811548521e-05, 1.5e-9, 1e15, 1e16, 1.7976931348623157e308,
    5e-324, 123.456, -0.5, 2**63 - 1, -(2**63), 2**64, 10**30, True, False, None,
    float("nan"), float("inf"), "plain", "é", "日本", "\U0001F600", "\x7f", "\x00\x1f\b\f\t",
    "\u2028", "\ud800", "a/b", "quote\"back\\slash", "1e5", "0.00001", "null",
    {"b": 1, "a": 2}, {"é": 1, "e": 2}, {1: "int key"}, [1, (2, 3)], [[[[[[[[[[[]]]]]]]]]]],
]


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(_JSON_VALUES)
def test_canonical_text_matches_on_any_json(value: Any) -> None:
    assert annotation_files._canonical_text(value) == annotation_files._CANONICAL.encode(value)


def test_canonical_text_is_exactly_the_standard_encoders() -> None:
    """The fast encoder writes byte for byte what the standard library's canonical encoder
    writes (hashes already stored on the platform depend on it), for values where the two
    differ (exponents, tiny numbers, DEL, non-ASCII, NaN, huge integers)."""
    nested: Any = 1
    for _ in range(300):  # deeper than orjson accepts
        nested = [nested]
    for value in [*_TRICKY_VALUES, nested]:
        expected = annotation_files._CANONICAL.encode(value)
        assert annotation_files._canonical_text(value) == expected, value


def _read(decode: Callable[[bytes, str], Any], data: bytes) -> tuple[str, str]:
    """What ``decode`` gives for ``data``: the document as JSON text (which tells ``1`` from
    ``1.0`` and ``0.0`` from ``-0.0``, unlike ``==``), or the error's text."""
    try:
        return "value", json.dumps(decode(data, "f.json"), sort_keys=True)
    except AnnotationFileError as exc:
        return "error", str(exc)


_DECODER_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=2**52, max_value=2**70)
    | st.integers(min_value=-(2**70), max_value=-(2**52)) | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(_DECODER_VALUES)
def test_fast_decoder_reads_what_the_exact_decoder_reads(value: Any) -> None:
    """orjson's reading, integral floats made ints, is the standard decoder's reading with
    ``_finite_float``: the same values of the same types, or the same error."""
    data = json.dumps({"annotations": [], "metadata": {"user": {"v": value}}}).encode()
    assert _read(document.decode_document, data) == _read(document.decode_exactly, data)


@pytest.mark.parametrize("data", [
    b'{"a": [1.0, -0.0, 2.5, 1e2, 1E-2, 9007199254740992.0, 9007199254740991.0]}',
    b'{"a": 18446744073709551615}', b'{"a": 18446744073709551616}',
    b'{"a": -9223372036854775808}', b'{"a": -9223372036854775809}',
    b'{"a": 9.3e18}', b'{"a": -9.3e18}', b'{"a": 1e300}', b'{"a": 5e-324}',
    b'{"a": 1e999}', b'{"a": NaN}', b'{"a": -Infinity}', b'{"a": "\\ud800"}',
    b'\xef\xbb\xbf{"a": 1.0}', b'{"a": 1, "a": 2.0}', b'[1.0]', b'3.0', b'"text"',
    b'[' * 2000 + b']' * 2000, b'{"a": "\xff"}', b'{"a": 1.0,}',
])
def test_fast_decoder_agrees_where_orjson_and_json_differ(data: bytes) -> None:
    """Integers past 64 bits (orjson widens them to floats), floats that large, non-finite
    numbers, a lone surrogate, a byte-order mark, duplicate keys, bare values, deep nesting
    and bad bytes: the fast decoder answers as the exact one does."""
    assert _read(document.decode_document, data) == _read(document.decode_exactly, data)
