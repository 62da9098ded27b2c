"""The streaming walk of a sync root: regular files as ``LocalEntry``, per-path problems as data.

Order: entries come out sorted by ``model.path_key``: depth first, each directory's entries
sorted by the UTF-8 bytes of their NFC names, files and subdirectories interleaved by name. The
march relies on it.

Memory: only the listing of the directory being read plus the unread rest of each ancestor's
listing is held, never the whole tree.

Problems: a directory that cannot be listed, a file that cannot be stat'ed or vanished after
listing, a name that is not valid UTF-8, two names with the same NFC form, a special file, a
symlink that is not followed or that loops: each becomes one ``ScanProblem`` and the walk goes
on. Only an unusable sync root raises (``LocalFileError``): an empty walk of an unmounted root
must never look like "every file was deleted".
"""

from __future__ import annotations

import itertools
import os
import stat
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dlsync.errors import LocalFileError
from dlsync.local.ignore import IgnoreRules
from dlsync.local.layout import AnnotationLayout, LabelFormat, LayoutKind
from dlsync.model import LocalEntry, ProblemKind, RelPath, ScanProblem

ScanResult = LocalEntry | ScanProblem
_JSON = ".json"


@dataclass(frozen=True, slots=True)
class _Annotation:
    """The annotation file found for one item."""

    path: str
    size: int
    mtime_ns: int


@dataclass(slots=True)
class _Frame:
    """One directory on the walk stack: what is left of its listing, and its annotation files."""

    rel: str
    ident: tuple[int, int]
    entries: Iterator[tuple[str, os.DirEntry[str]] | ScanProblem]
    annotations: dict[str, os.DirEntry[str]] = field(default_factory=dict)


def scan(root: Path, *, rules: IgnoreRules, layout: AnnotationLayout | None = None,
         follow_symlinks: bool = False) -> Iterator[ScanResult]:
    """Walk ``root`` and yield its files and problems in ``path_key`` order."""
    walker = _Walker(Path(root), rules, layout or AnnotationLayout.none(), follow_symlinks)
    return walker.walk()


def scan_roots(root: Path, roots: tuple[str, ...], *, rules: IgnoreRules,
               layout: AnnotationLayout | None = None,
               follow_symlinks: bool = False) -> Iterator[ScanResult]:
    """What ``scan`` yields at or under each of ``roots`` (paths relative to ``root``, sorted by
    ``path_key``, none inside another): a root that is a file yields that file, a folder its
    subtree. Only each root's parent folder is listed, never the whole tree; a root that is
    gone, or inside an ignored folder, yields nothing."""
    walker = _ScopedWalker(Path(root), rules, layout or AnnotationLayout.none(), follow_symlinks)
    return walker.walk_roots(roots)

class _Walker:
    """The state of one walk: its settings and the stack of open directories."""

    def __init__(self, root: Path, rules: IgnoreRules, layout: AnnotationLayout,
                 follow_symlinks: bool) -> None:
        self.root = root
        self.rules = rules
        self.layout = layout
        self.follow = follow_symlinks
        self.skip_dir = _annotation_dir_inside(root, layout)
        self._coco = layout.format is LabelFormat.COCO
        self.stack: list[_Frame] = []
        top = str(root)
        self._prefix = top if top.endswith("/") else top + "/"
        """Every entry's path starts with it: what follows is the path on disk (no relpath)."""
        folder = layout.directory
        self._plain_annotations = folder is not None and folder.is_absolute() and \
            ".." not in folder.parts
        """Annotation paths under an absolute folder without ``..`` are absolute already."""

    def walk(self) -> Iterator[ScanResult]:
        try:
            st = os.stat(self.root)
            if not stat.S_ISDIR(st.st_mode):
                raise LocalFileError(str(self.root), "the sync root is not a directory")
            root_frame = self._open("", str(self.root), (st.st_dev, st.st_ino))
        except OSError as exc:
            raise LocalFileError(str(self.root), f"cannot list the sync root: {exc.strerror}; "
                                 "nothing is synced until it is readable") from exc
        self.stack.append(root_frame)
        while self.stack:
            item = next(self.stack[-1].entries, None)
            if item is None:
                self.stack.pop()
            elif isinstance(item, ScanProblem):
                yield item
            else:
                yield from self._visit(self.stack[-1], *item)

    def _open(self, rel: str, real: str, ident: tuple[int, int]) -> _Frame:
        """List the directory at ``real`` (raises OSError) and pair its annotation files."""
        with os.scandir(real) as it:
            listing = sorted(it, key=lambda e: _sort_key(e.name))
        entries, sidecars = self._split_sidecars(listing)
        frame = _Frame(rel, ident, _named(rel, entries), sidecars)
        if self.layout.kind is LayoutKind.DIRECTORY and not self._coco:
            found = self._annotation_listing(rel)
            if isinstance(found, ScanProblem):
                frame.entries = itertools.chain((found,), frame.entries)
            else:
                frame.annotations = found
        return frame

    def _split_sidecars(
        self, listing: list[os.DirEntry[str]]
    ) -> tuple[list[os.DirEntry[str]], dict[str, os.DirEntry[str]]]:
        """Separate ``x.json`` files that annotate a file ``x`` in the same directory."""
        if self.layout.kind is not LayoutKind.SIDECAR:
            return listing, {}
        items: set[str] = set()
        sidecars: dict[str, os.DirEntry[str]] = {}
        for entry in sorted(listing, key=lambda e: len(e.name)):
            stem = entry.name[: -len(_JSON)]
            if entry.name.endswith(_JSON) and stem in items and _is_file(entry):
                sidecars[stem] = entry
            elif _is_file(entry):
                items.add(entry.name)
        paired = {id(e) for e in sidecars.values()}
        return [e for e in listing if id(e) not in paired], sidecars

    def _annotation_listing(self, rel: str) -> dict[str, os.DirEntry[str]] | ScanProblem:
        """The files of ``DIR/rel`` by NFC name; empty when that subfolder does not exist.

        A subfolder that exists but cannot be listed is a problem that hides the files of
        ``rel`` (their annotations are not known, so they must not look removed); an annotation
        tree whose top cannot be listed stops the scan, like an unusable sync root.
        """
        assert self.layout.directory is not None
        folder = self.layout.directory / rel
        try:
            with os.scandir(folder) as it:
                return {unicodedata.normalize("NFC", e.name): e for e in it if _is_file(e)}
        except FileNotFoundError:
            if not rel:
                raise LocalFileError(str(folder), "the annotation folder does not exist; "
                                     "nothing is synced until it is there") from None
            return {}
        except OSError as exc:
            if not rel:
                raise LocalFileError(str(folder), f"cannot list the annotation folder: "
                                     f"{exc.strerror}; nothing is synced until it is "
                                     "readable") from exc
            return _problem(rel, ProblemKind.UNREADABLE,
                            f"cannot list its annotation folder {folder}: {exc.strerror}; "
                            "its files and their annotations are left as they are")

    def _visit(self, frame: _Frame, rel: str, entry: os.DirEntry[str]) -> Iterator[ScanResult]:
        if self._ignored(rel, entry):
            return
        try:
            is_link = entry.is_symlink()
            st = entry.stat(follow_symlinks=self.follow)
        except FileNotFoundError:
            yield _problem(rel, ProblemKind.VANISHED, "removed while the scan ran; skipped")
            return
        except OSError as exc:
            yield _problem(rel, ProblemKind.UNREADABLE, f"cannot stat: {exc.strerror}; skipped")
            return
        if is_link and not self.follow:
            yield _problem(rel, ProblemKind.NOT_A_FILE,
                           "symbolic link, not followed (enable follow_symlinks to sync it)")
        elif stat.S_ISDIR(st.st_mode):
            yield from self._enter(rel, entry.path, (st.st_dev, st.st_ino))
        elif stat.S_ISREG(st.st_mode):
            yield self._entry(frame, rel, entry, st)
        else:
            yield _problem(rel, ProblemKind.NOT_A_FILE,
                           "special file (device, pipe or socket); skipped")

    def _ignored(self, rel: str, entry: os.DirEntry[str]) -> bool:
        try:
            is_dir = entry.is_dir(follow_symlinks=self.follow)
        except OSError:
            is_dir = False
        return self.rules.matches(rel, is_dir) or (
            (is_dir or self._coco) and rel == self.skip_dir)

    def _enter(self, rel: str, real: str, ident: tuple[int, int]) -> Iterator[ScanResult]:
        if any(f.ident == ident for f in self.stack):
            yield _problem(rel, ProblemKind.SYMLINK_LOOP,
                           "symbolic link leads back to one of its parents; not followed")
            return
        try:
            self.stack.append(self._open(rel, real, ident))
        except FileNotFoundError:
            yield _problem(rel, ProblemKind.VANISHED, "directory removed while the scan ran")
        except OSError as exc:
            yield _problem(rel, ProblemKind.UNREADABLE,
                           f"cannot list directory: {exc.strerror}; its files are left as they are")

    def _entry(self, frame: _Frame, rel: str, entry: os.DirEntry[str],
               st: os.stat_result) -> LocalEntry:
        found = self._annotation_for(frame, entry.name)
        on_disk = entry.path[len(self._prefix):] if entry.path.startswith(self._prefix) else \
            os.path.relpath(entry.path, self.root)
        return LocalEntry(
            path=RelPath(rel), size=st.st_size, mtime_ns=st.st_mtime_ns, inode=st.st_ino,
            annotation_path=found.path if found else None,
            annotation_size=found.size if found else 0,
            annotation_mtime_ns=found.mtime_ns if found else 0,
            name_on_disk=None if on_disk == rel else on_disk,
        )

    def _annotation_for(self, frame: _Frame, name: str) -> _Annotation | None:
        nfc = unicodedata.normalize("NFC", name)
        if self.layout.kind is LayoutKind.SIDECAR:
            candidates = [name]
        elif self._coco:
            return None    # one COCO file for the root: paired by labelformat, not by name
        elif self.layout.kind is LayoutKind.DIRECTORY and self.layout.is_dataloop:
            candidates = [nfc + _JSON, os.path.splitext(nfc)[0] + _JSON]
        elif self.layout.kind is LayoutKind.DIRECTORY:    # YOLO a/b.txt, VOC a/b.xml
            candidates = [os.path.splitext(nfc)[0] + self.layout.suffix]
        else:
            return None
        for candidate in candidates:
            entry = frame.annotations.get(candidate)
            if entry is None:
                continue
            try:
                st = entry.stat()
            except OSError:
                continue
            path = entry.path if self._plain_annotations and self.layout.kind is \
                LayoutKind.DIRECTORY else os.path.abspath(entry.path)
            return _Annotation(path, st.st_size, st.st_mtime_ns)
        return None


def _named(rel: str, listing: list[os.DirEntry[str]]
           ) -> Iterator[tuple[str, os.DirEntry[str]] | ScanProblem]:
    """Each entry with its NFC relative path, or a problem for a name that cannot be one."""
    previous = None
    for entry in listing:
        child = f"{rel}/{entry.name}" if rel else entry.name
        try:
            child.encode("utf-8")
        except UnicodeEncodeError:
            printable = child.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            yield _problem(printable, ProblemKind.UNDECODABLE_NAME,
                           f"name is not valid UTF-8 ({os.fsencode(entry.name)!r}); "
                           "rename it to sync it")
            continue
        nfc = unicodedata.normalize("NFC", child)
        if nfc == previous:
            yield _problem(nfc, ProblemKind.DUPLICATE_NAME,
                           f"{entry.name!a} has the same Unicode NFC form as another name "
                           "in its directory; only the first is synced")
            continue
        previous = nfc
        yield nfc, entry


def _sort_key(name: str) -> bytes:
    return unicodedata.normalize("NFC", name).encode("utf-8", "surrogateescape")


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False


def _problem(path: str, kind: ProblemKind, reason: str) -> ScanProblem:
    return ScanProblem(path=path, kind=kind, reason=reason)


def _annotation_dir_inside(root: Path, layout: AnnotationLayout) -> str | None:
    """The annotation directory's path relative to ``root``, when it lies inside it."""
    if layout.directory is None:
        return None
    try:
        rel = layout.directory.resolve().relative_to(root.resolve())
    except ValueError:
        return None
    return rel.as_posix() if rel.parts else None


class _ScopedWalker(_Walker):
    """The walk, started at given roots instead of the sync root."""

    def walk_roots(self, roots: tuple[str, ...]) -> Iterator[ScanResult]:
        """Files and problems at or under each root, in ``path_key`` order."""
        frames: dict[str, tuple[_Frame, dict[str, os.DirEntry[str]]] | None] = {}
        for rel in roots:
            parent = rel.rpartition("/")[0]
            if parent not in frames:
                frames[parent] = self._listing(parent)
            found = frames[parent]
            if found is None or found[1].get(rel) is None:
                continue
            frame, entries = found
            self.stack = [frame]
            yield from self._visit(frame, rel, entries[rel])
            yield from self._drain()

    def _drain(self) -> Iterator[ScanResult]:
        while len(self.stack) > 1:
            item = next(self.stack[-1].entries, None)
            if item is None:
                self.stack.pop()
            elif not isinstance(item, tuple):
                yield item
            else:
                yield from self._visit(self.stack[-1], *item)

    def _listing(self, parent: str) -> tuple[_Frame, dict[str, os.DirEntry[str]]] | None:
        """The parent folder's frame and entries by path; None when it is gone or ignored."""
        if self._inside_ignored(parent):
            return None
        real = os.path.join(self.root, parent) if parent else str(self.root)
        try:
            st = os.stat(real)
            frame = self._open(parent, real, (st.st_dev, st.st_ino))
        except OSError:
            return None
        entries = {item[0]: item[1] for item in frame.entries if isinstance(item, tuple)}
        frame.entries = iter(())
        return frame, entries

    def _inside_ignored(self, parent: str) -> bool:
        parts = parent.split("/") if parent else []
        for depth in range(1, len(parts) + 1):
            folder = "/".join(parts[:depth])
            if self.rules.matches(folder, True) or folder == self.skip_dir:
                return True
        return False
