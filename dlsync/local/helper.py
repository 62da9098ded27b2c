"""A helper process that reads, hashes and parses files ahead of the planner thread.

On a walk with many new or changed files, most of the planner's CPU goes to hashing each file
and parsing its annotation file. In the planner thread that work holds the interpreter lock
the event loop needs to keep requests moving: the planner and the uploads take turns instead of
running side by side. ``ReadHelper`` starts one child process (``python -m
dlsync.local.helper``) and sends it the files the planner will reach next; the child does what
``read_small`` and ``load_annotation_file`` do and sends back the fingerprints, the kept bytes
and the canonical annotations. The planner takes each result when it reaches that file.

Nothing depends on the child. A file the child could not read or parse is read again in the
planner thread, which then fails or skips it exactly as without the helper; if the child cannot
start or ends, the planner reads every later file itself. What the child reads is checked
against the same ``stat`` the scan saw, as in the planner thread.

Frames on the pipes are pickles: one per batch of requests, one per batch of replies. The
requests not yet answered are kept under ``REQUEST_BUDGET`` bytes, below a pipe's buffer, so the
parent never blocks writing while the child blocks writing a reply.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from dlsync.local.annotations import AnnotationSet, CanonicalAnnotation, load_annotation_file
from dlsync.local.fingerprint import FileRead, read_small
from dlsync.model import Fingerprint, LocalEntry, RelPath

BATCH = 32                # requests per frame
REQUEST_BUDGET = 32_768   # bytes of requests sent and not yet answered, at most
_PROTOCOL = pickle.HIGHEST_PROTOCOL
_WITHHELD = frozenset({"DLSYNC_TOKEN"})   # the child reads files; it needs no credential

Request = tuple[str, int, int, int, str | None]
"""(path to open under the root, size, mtime_ns, inode, annotation file or None)."""
_Read = tuple[str, int, bytes | None] | None
_Annotations = tuple[list[tuple[Mapping[str, Any], str, str]], Mapping[str, Any], str] | None


@dataclass(frozen=True, slots=True)
class Prefetched:
    """What the helper made of one file; ``None`` parts are done again in the planner thread."""

    read: FileRead | None
    annotations: AnnotationSet | None


class ReadHelper:
    """The parent's side: submit files in walk order, take their results in the same order.

    Used from one thread only (the planner's). ``close`` ends the child."""

    def __init__(self, root: Path, keep: int) -> None:
        self.root = root
        self.keep = keep
        self.answered = 0            # files the child answered
        self.failure: str | None = None
        """Why the child stopped helping (it could not start, or it ended), once it did."""
        self._proc: subprocess.Popen[bytes] | None = None
        self._broken = False
        self._batch: list[Request] = []
        self._batch_bytes = 0
        self._sent: deque[tuple[int, int]] = deque()   # (bytes, requests) of unanswered frames
        self._in_flight = 0
        self._replies: deque[tuple[_Read, _Annotations]] = deque()

    @property
    def working(self) -> bool:
        """False once the child could not start or ended: submit nothing more."""
        return not self._broken

    def submit(self, entry: LocalEntry, annotation_path: str | None) -> bool:
        """Queue ``entry`` (and its annotation file) for the child; False when it was not
        queued (no helper, or too much is in flight), so the planner reads it itself."""
        if self._broken:
            return False
        request: Request = (entry.disk_path, entry.size, entry.mtime_ns, entry.inode,
                            annotation_path)
        cost = len(request[0]) + len(annotation_path or "") + 64
        if self._in_flight + self._batch_bytes + cost > REQUEST_BUDGET:
            return False
        if self._proc is None and not self._start():
            return False
        self._batch.append(request)
        self._batch_bytes += cost
        if len(self._batch) >= BATCH:
            self._send()
        return True

    def take(self) -> Prefetched:
        """The result of the oldest submitted file not yet taken."""
        if not self._replies:
            if self._batch and not self._sent:
                self._send()
            self._receive()
        if not self._replies:
            return Prefetched(None, None)
        read, annotations = self._replies.popleft()
        return Prefetched(_file_read(read), _annotation_set(annotations))

    def close(self) -> None:
        """End the child (it exits when its input closes) and wait for it."""
        proc, self._proc = self._proc, None
        self._broken = True
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        finally:
            if proc.stdout is not None:
                proc.stdout.close()

    def _start(self) -> bool:
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "dlsync.local.helper", os.fspath(self.root),
                 str(self.keep)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                env={k: v for k, v in os.environ.items() if k not in _WITHHELD})
        except OSError as exc:
            self._give_up(f"could not start: {exc.strerror}")
            return False
        return True

    def _send(self) -> None:
        batch, self._batch = self._batch, []
        cost, self._batch_bytes = self._batch_bytes, 0
        if self._proc is None or self._proc.stdin is None or self._broken:
            self._lost(len(batch))
            return
        try:
            pickle.dump(batch, self._proc.stdin, protocol=_PROTOCOL)
            self._proc.stdin.flush()
        except OSError:
            self._lost(len(batch))
            self._give_up("stopped taking requests")
            return
        self._sent.append((cost, len(batch)))
        self._in_flight += cost

    def _receive(self) -> None:
        if not self._sent:
            return
        cost, count = self._sent.popleft()
        self._in_flight -= cost
        proc = self._proc
        try:
            assert proc is not None and proc.stdout is not None
            replies = pickle.load(proc.stdout)
        except (AssertionError, EOFError, OSError, pickle.UnpicklingError):
            self._lost(count)
            self._give_up("ended")
            return
        self.answered += len(replies)
        self._replies.extend(replies)

    def _lost(self, count: int) -> None:
        """``count`` requests will get no answer: their files are read in the planner."""
        self._replies.extend([(None, None)] * count)

    def _give_up(self, why: str) -> None:
        if self.failure is None:
            code = self._proc.poll() if self._proc is not None else None
            self.failure = why if code is None else f"{why} (exit code {code})"
        self._broken = True
        # every frame sent and not answered is lost with the child
        while self._sent:
            self._lost(self._sent.popleft()[1])
        self._in_flight = 0


def _file_read(read: _Read) -> FileRead | None:
    if read is None:
        return None
    sha256, size, content = read
    return FileRead(Fingerprint(sha256=sha256, size=size), content)


def _annotation_set(annotations: _Annotations) -> AnnotationSet | None:
    if annotations is None:
        return None
    parts, user, set_hash = annotations
    return AnnotationSet(tuple(CanonicalAnnotation(body, canonical, digest)
                               for body, canonical, digest in parts), user, set_hash)


# -- the child -------------------------------------------------------------------------------

def _answer(root: Path, keep: int, request: Request) -> tuple[_Read, _Annotations]:
    disk_path, size, mtime_ns, inode, annotation_path = request
    read: _Read = None
    try:
        found = read_small(root, LocalEntry(RelPath(disk_path), size, mtime_ns, inode), keep)
        read = (found.fingerprint.sha256, found.fingerprint.size, found.content)
    except Exception:  # the planner reads it again and reports what fails
        read = None
    annotations: _Annotations = None
    if annotation_path is not None:
        try:
            parsed = load_annotation_file(annotation_path)
            annotations = ([(a.body, a.canonical, a.hash) for a in parsed.annotations],
                           dict(parsed.user_metadata), parsed.set_hash)
        except Exception:  # likewise
            annotations = None
    return read, annotations


def serve(root: Path, keep: int, requests: BinaryIO, replies: BinaryIO) -> None:
    """The child's loop: answer each frame of requests until the input ends."""
    while True:
        try:
            batch: list[Request] = pickle.load(requests)
        except EOFError:
            return
        pickle.dump([_answer(root, keep, request) for request in batch], replies,
                    protocol=_PROTOCOL)
        replies.flush()


def main() -> None:
    """``python -m dlsync.local.helper ROOT KEEP``: serve the pipes of stdin and stdout."""
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr      # nothing else may write into the reply pipe
    try:
        serve(Path(sys.argv[1]), int(sys.argv[2]), sys.stdin.buffer, replies)
    except (BrokenPipeError, KeyboardInterrupt):
        pass


if __name__ == "__main__":
    main()
