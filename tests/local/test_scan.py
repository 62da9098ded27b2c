"""The streaming scan over a real directory tree."""

from __future__ import annotations

import os
import socket
import unicodedata
from pathlib import Path

import pytest

from dlsync.errors import LocalFileError
from dlsync.local.ignore import IgnoreRules
from dlsync.local.layout import AnnotationLayout
from dlsync.local.scan import ScanResult, scan
from dlsync.model import LocalEntry, ProblemKind, ScanProblem, path_key

RULES = IgnoreRules.for_root(Path("/nonexistent-root-without-ignore-file"))


def write(root: Path, rel: str, data: bytes = b"x") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def entries(results: list[ScanResult]) -> list[LocalEntry]:
    return [r for r in results if isinstance(r, LocalEntry)]


def problems(results: list[ScanResult]) -> list[ScanProblem]:
    return [r for r in results if isinstance(r, ScanProblem)]


def paths(root: Path, **kwargs: object) -> list[str]:
    return [e.path for e in entries(list(scan(root, rules=RULES, **kwargs)))]  # type: ignore[arg-type]


def test_nested_tree_comes_out_in_path_key_order(tmp_path: Path) -> None:
    """Files and subdirectories interleave by UTF-8 name, depth first, as path_key sorts."""
    for rel in ["b.txt", "a/z.txt", "a.txt", "a/b/c.txt", "a b/x.txt", "A/y.txt", "é.txt"]:
        write(tmp_path, rel)
    got = paths(tmp_path)
    assert got == sorted(got, key=path_key)
    assert got == ["A/y.txt", "a/b/c.txt", "a/z.txt", "a b/x.txt", "a.txt", "b.txt", "é.txt"]


def test_entry_carries_stat_fields_and_empty_file(tmp_path: Path) -> None:
    """An empty file is an item; size, mtime_ns and inode come from its stat."""
    path = write(tmp_path, "empty.bin", b"")
    (entry,) = entries(list(scan(tmp_path, rules=RULES)))
    st = path.stat()
    assert (entry.path, entry.size, entry.mtime_ns, entry.inode) == (
        "empty.bin", 0, st.st_mtime_ns, st.st_ino)
    assert entry.annotation_path is None


def test_nfd_names_become_nfc_paths(tmp_path: Path) -> None:
    """A name stored in NFD on disk is reported as its NFC RelPath, also inside a NFD folder."""
    nfd_dir = unicodedata.normalize("NFD", "café")
    write(tmp_path, f"{nfd_dir}/{unicodedata.normalize('NFD', 'é.jpg')}")
    assert paths(tmp_path) == [unicodedata.normalize("NFC", "café/é.jpg")]


def test_two_names_with_one_nfc_form_report_the_second(tmp_path: Path) -> None:
    """NFC and NFD spellings of one name: the first is an item, the second a problem."""
    write(tmp_path, unicodedata.normalize("NFC", "é.txt"))
    write(tmp_path, unicodedata.normalize("NFD", "é.txt"))
    results = list(scan(tmp_path, rules=RULES))
    assert [e.path for e in entries(results)] == ["é.txt"]
    assert [p.kind for p in problems(results)] == [ProblemKind.DUPLICATE_NAME]


def test_default_ignores_and_dlsyncignore(tmp_path: Path) -> None:
    """Temporary files, .git/ and .dlsyncignore patterns are skipped; a negation re-includes."""
    for rel in ["keep.jpg", "x.tmp", "y.part", "~$doc.docx", ".DS_Store", ".git/HEAD",
                "sub/.git/config", ".dlsync-upload-1", "build/out.bin", "logs/a.log",
                "logs/important.log", "v.swp"]:
        write(tmp_path, rel)
    (tmp_path / ".dlsyncignore").write_text("build/\n*.log\n!important.log\n# comment\n")
    rules = IgnoreRules.for_root(tmp_path)
    got = [e.path for e in entries(list(scan(tmp_path, rules=rules)))]
    assert got == ["keep.jpg", "logs/important.log"]


def test_symlinks_are_reported_not_followed_by_default(tmp_path: Path) -> None:
    """A symlink to a file or a directory is a NOT_A_FILE problem unless following is enabled."""
    write(tmp_path, "real/a.txt")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real" / "a.txt")
    (tmp_path / "linkdir").symlink_to(tmp_path / "real")
    results = list(scan(tmp_path, rules=RULES))
    assert [e.path for e in entries(results)] == ["real/a.txt"]
    assert {(p.path, p.kind) for p in problems(results)} == {
        ("link.txt", ProblemKind.NOT_A_FILE), ("linkdir", ProblemKind.NOT_A_FILE)}


def test_followed_symlink_loop_is_reported_once(tmp_path: Path) -> None:
    """With follow_symlinks, a link back to an ancestor is a SYMLINK_LOOP and the walk ends."""
    write(tmp_path, "d/a.txt")
    (tmp_path / "d" / "up").symlink_to(tmp_path)
    (tmp_path / "alias").symlink_to(tmp_path / "d")
    results = list(scan(tmp_path, rules=RULES, follow_symlinks=True))
    assert [e.path for e in entries(results)] == ["alias/a.txt", "d/a.txt"]
    assert sorted(p.path for p in problems(results) if p.kind is ProblemKind.SYMLINK_LOOP) == [
        "alias/up", "d/up"]


def test_special_file_is_a_problem(tmp_path: Path) -> None:
    """A FIFO or socket is reported as NOT_A_FILE, never opened."""
    os.mkfifo(tmp_path / "pipe")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "sock"))
        results = list(scan(tmp_path, rules=RULES))
    assert [(p.path, p.kind) for p in problems(results)] == [
        ("pipe", ProblemKind.NOT_A_FILE), ("sock", ProblemKind.NOT_A_FILE)]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads directories whatever their mode")
def test_unreadable_directory_is_a_problem_and_walk_goes_on(tmp_path: Path) -> None:
    """A directory without read permission becomes UNREADABLE; its siblings are still scanned."""
    write(tmp_path, "locked/a.txt")
    write(tmp_path, "open/b.txt")
    (tmp_path / "locked").chmod(0)
    try:
        results = list(scan(tmp_path, rules=RULES))
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert [e.path for e in entries(results)] == ["open/b.txt"]
    assert [(p.path, p.kind) for p in problems(results)] == [("locked", ProblemKind.UNREADABLE)]


def test_file_removed_after_listing_is_vanished(tmp_path: Path) -> None:
    """A file deleted between the directory listing and its stat is VANISHED, not an error."""
    write(tmp_path, "a.txt")
    write(tmp_path, "b.txt")
    walk = scan(tmp_path, rules=RULES)
    first = next(walk)
    (tmp_path / "b.txt").unlink()
    rest = list(walk)
    assert isinstance(first, LocalEntry) and first.path == "a.txt"
    assert [(p.path, p.kind) for p in problems(rest)] == [("b.txt", ProblemKind.VANISHED)]


def test_directory_removed_during_the_walk_is_vanished(tmp_path: Path) -> None:
    """A directory deleted after its parent was listed is VANISHED; the walk finishes."""
    write(tmp_path, "a.txt")
    write(tmp_path, "d/x.txt")
    write(tmp_path, "e.txt")
    walk = scan(tmp_path, rules=RULES)
    next(walk)
    (tmp_path / "d" / "x.txt").unlink()
    (tmp_path / "d").rmdir()
    rest = list(walk)
    assert [e.path for e in entries(rest)] == ["e.txt"]
    assert [(p.path, p.kind) for p in problems(rest)] == [("d", ProblemKind.VANISHED)]


def test_undecodable_name_is_reported_with_printable_bytes(tmp_path: Path) -> None:
    """A name that is not UTF-8 becomes UNDECODABLE_NAME showing its bytes; others still sync."""
    fd = os.open(os.fsencode(tmp_path) + b"/bad\xff.txt", os.O_CREAT | os.O_WRONLY, 0o644)
    os.close(fd)
    write(tmp_path, "good.txt")
    results = list(scan(tmp_path, rules=RULES))
    assert [e.path for e in entries(results)] == ["good.txt"]
    (problem,) = problems(results)
    assert problem.kind is ProblemKind.UNDECODABLE_NAME
    assert problem.path == "bad\\xff.txt"
    assert "b'bad\\xff.txt'" in problem.reason


def test_missing_root_raises_rather_than_looking_empty(tmp_path: Path) -> None:
    """An absent sync root is an error, so it can never read as 'every file was deleted'."""
    with pytest.raises(LocalFileError, match="sync root"):
        list(scan(tmp_path / "absent", rules=RULES))


def test_sidecar_layout_pairs_json_and_keeps_lone_json(tmp_path: Path) -> None:
    """b.jpg.json annotates b.jpg and is no item; a .json without its item is an ordinary item."""
    write(tmp_path, "a/b.jpg")
    ann = write(tmp_path, "a/b.jpg.json", b'{"annotations": []}')
    write(tmp_path, "a/lone.json")
    got = entries(list(scan(tmp_path, rules=RULES, layout=AnnotationLayout.sidecar())))
    assert [e.path for e in got] == ["a/b.jpg", "a/lone.json"]
    st = ann.stat()
    assert (got[0].annotation_path, got[0].annotation_size, got[0].annotation_mtime_ns) == (
        str(ann), st.st_size, st.st_mtime_ns)
    assert got[1].annotation_path is None


def test_directory_layout_inside_root_pairs_both_spellings(tmp_path: Path) -> None:
    """DIR/a/b.json and DIR/a/c.png.json pair with a/b.jpg and a/c.png; DIR is not scanned."""
    write(tmp_path, "a/b.jpg")
    write(tmp_path, "a/c.png")
    write(tmp_path, "a/d.png")
    v1 = write(tmp_path, "ann/a/b.json")
    v2 = write(tmp_path, "ann/a/c.png.json")
    layout = AnnotationLayout.in_directory(tmp_path / "ann")
    got = entries(list(scan(tmp_path, rules=RULES, layout=layout)))
    assert [(e.path, e.annotation_path) for e in got] == [
        ("a/b.jpg", str(v1)), ("a/c.png", str(v2)), ("a/d.png", None)]


def test_directory_layout_outside_root(tmp_path: Path) -> None:
    """An annotation tree beside the root pairs the same way."""
    write(tmp_path, "items/x/y.jpg")
    ann = write(tmp_path, "labels/x/y.json")
    layout = AnnotationLayout.in_directory(tmp_path / "labels")
    got = entries(list(scan(tmp_path / "items", rules=RULES, layout=layout)))
    assert [(e.path, e.annotation_path) for e in got] == [("x/y.jpg", str(ann))]
