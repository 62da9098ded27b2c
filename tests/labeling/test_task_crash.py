"""A mirror SIGKILLed while it uploads: after a rerun the task holds every item exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

from dlsync.gate.faults import FaultSettings
from tests.dtlpy.sdk import DTLPY_MARKS, EMAIL
from tests.labeling.conftest import Labeling, write_image
from tests.mirror.conftest import uploads

pytestmark = DTLPY_MARKS

FILES = 120


def start_mirror(labeling: Labeling) -> subprocess.Popen[bytes]:
    """``python -m dlsync mirror --task crash`` as a process of its own."""
    env = {**os.environ, "DLSYNC_TOKEN": labeling.gate.mint_token(email=EMAIL, ttl=3600)}
    argv = [sys.executable, "-m", "dlsync", "--log-level", "error", "mirror",
            *labeling.target(), "--create", "--no-progress", "--task", labeling.task("crash"),
            "--workers", "4"]
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def test_task_holds_every_uploaded_item_once_after_a_sigkill_and_a_rerun(
        labeling: Labeling) -> None:
    """Killed after some uploads (none added to the task yet, some recorded only in state),
    the rerun creates the task with every item; each is in it once, none twice."""
    for n in range(FILES):
        write_image(labeling.source, f"d{n % 4}/{n}.jpg", ["car"])
    labeling.gate.reset_stats()
    labeling.gate.set_faults(FaultSettings(latency_ms=40.0,
                                           routes=("POST /datasets/{id}/items",)))
    try:
        process = start_mirror(labeling)
        deadline = time.monotonic() + 60
        while uploads(labeling.gate.stats()) < FILES // 4 and time.monotonic() < deadline:
            assert process.poll() is None, "the mirror ended before it was killed"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        labeling.gate.set_faults(FaultSettings())
    assert process.returncode == -signal.SIGKILL
    assert 0 < uploads(labeling.gate.stats()) < FILES
    rerun = labeling.mirror("--task", labeling.task("crash"), "--workers", "4")
    assert rerun.code == 0, rerun
    dataset = labeling.dataset()
    uploaded = {item.filename: item.id for item in dataset.items.list().all()}
    assert len(uploaded) == FILES
    task = dataset.tasks.get(task_name=labeling.task("crash"))
    in_task = [item.id for item in task.get_items().all()]
    assert sorted(in_task) == sorted(uploaded.values())
    refs = Counter(ref["id"] for item in dataset.items.list().all()
                   for ref in item.metadata["system"]["refs"] if ref["type"] == "task")
    assert refs == {task.id: FILES}
