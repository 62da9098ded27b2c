"""Fixtures that point the official Dataloop SDK (dtlpy) at one in-process gate per session.

dtlpy keeps its state in ``$DATALOOP_PATH`` (default ``~/.dataloop``), chosen when it is imported,
so the SDK is imported once, with ``DATALOOP_PATH`` and ``HOME`` pointing at private temporary
folders; the environment is restored right after, so other tests see the real one. dtlpy is a
blocking client with its own loop thread: it runs only in sync tests, against ``GateThread``.
"""

from __future__ import annotations

import importlib
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from dlsync.gate.server import GateOptions, GateThread, RunningGate
from tests.dtlpy.samples import SampleTree, write_tree
from tests.dtlpy.sdk import EMAIL, SAMPLE_COUNT, SAMPLE_REMOTE_DIR, unique, upload_tree

ALIAS = "dlsync-gate"


def import_dtlpy_privately(dataloop_path: Path, home: Path) -> ModuleType:
    """Import dtlpy with its cookie, logs and caches under private folders, then restore env.

    dtlpy's import also sets a process-wide ``once`` filter for DeprecationWarning; importing
    inside ``catch_warnings`` drops it again, so the suite's warning filters stay in force.
    """
    saved = dict(os.environ)
    os.environ["DATALOOP_PATH"] = str(dataloop_path)
    os.environ["HOME"] = str(home)
    try:
        with warnings.catch_warnings():
            return importlib.import_module("dtlpy")
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(autouse=True)
def sdk_scratch_in_test_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """dtlpy's scratch folders (``tempfile.mkdtemp``, e.g. the ``annotations_jsons_*`` of an
    export download, which it never removes) go under the test's own temporary folder, so the
    suite leaves nothing behind in the system's temporary directory."""
    scratch = tmp_path / "sdk-scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))


@pytest.fixture(scope="session")
def gate() -> Iterator[RunningGate]:
    """One in-memory gate on a loopback port for every dtlpy test."""
    with GateThread(GateOptions()) as running:
        yield running


def dtlpy_logged_in(gate: RunningGate, tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The dtlpy module (private home), pointed at ``gate`` and logged in as ``EMAIL``."""
    private = tmp_path_factory.mktemp("dtlpy-home")
    sdk = import_dtlpy_privately(private / "dataloop", private)
    sdk.verbose.disable_progress_bar = True
    sdk.add_environment(environment=gate.url, alias=ALIAS, gate_url=gate.root_url,
                        url=gate.root_url + "/", verify_ssl=False)
    sdk.setenv(ALIAS)
    sdk.login_token(gate.mint_token(email=EMAIL, ttl=3600))
    return sdk


@pytest.fixture(scope="session")
def dl(gate: RunningGate, tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The dtlpy module, logged in to the gate with a minted token."""
    return dtlpy_logged_in(gate, tmp_path_factory)


@pytest.fixture(scope="session")
def project(dl: ModuleType) -> Any:
    """A project created through dtlpy, shared by all dtlpy tests."""
    return dl.projects.create(project_name=unique("dtlpy-compat"))


@pytest.fixture
def dataset(project: Any) -> Any:
    """A fresh, empty dataset for one test that changes what it holds."""
    return project.datasets.create(dataset_name=unique("ds"))


@pytest.fixture(scope="session")
def sample_tree(tmp_path_factory: pytest.TempPathFactory) -> SampleTree:
    """24 tiny images in three folders, with one annotation JSON file beside each (mirrored)."""
    return write_tree(tmp_path_factory.mktemp("samples"), SAMPLE_COUNT)


@pytest.fixture(scope="session")
def uploaded(project: Any, sample_tree: SampleTree) -> Any:
    """A dataset holding the sample tree under ``/sub``, uploaded once and only read by tests."""
    shared = project.datasets.create(dataset_name=unique("shared"))
    upload_tree(shared, sample_tree, SAMPLE_REMOTE_DIR)
    return shared
