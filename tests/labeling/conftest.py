"""Labeling scenarios: ``dlsync mirror`` and ``dlsync pull`` against one gate, checked through
the official SDK (dtlpy), as a labeling team would see the result.

dtlpy is a blocking client, so the gate runs on its own thread (``GateThread``) for the session
and the tests are synchronous; ``Labeling.mirror`` and ``Labeling.pull`` run the command line
in-process and return an ``Outcome``. Each test gets a dataset of its own.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from dlsync import cli, logs
from dlsync.gate.server import GateOptions, GateThread, RunningGate
from tests.commands import Outcome
from tests.dtlpy.conftest import dtlpy_logged_in
from tests.dtlpy.sdk import EMAIL, unique


@pytest.fixture(scope="session")
def gate() -> Iterator[RunningGate]:
    """One in-memory gate on a loopback port for every labeling test."""
    with GateThread(GateOptions()) as running:
        yield running


@pytest.fixture(scope="session")
def dl(gate: RunningGate, tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The dtlpy module, logged in to the gate as ``EMAIL``."""
    return dtlpy_logged_in(gate, tmp_path_factory)


@pytest.fixture(scope="session")
def project(dl: ModuleType) -> Any:
    """One project for every labeling test."""
    return dl.projects.create(project_name=unique("labeling"))


def write_image(root: Path, rel: str, labels: list[str] | None = None) -> Path:
    """A small file at ``rel`` with a sidecar annotation file of one class per label."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(f"pixels of {rel}".encode() * 8)
    if labels is not None:
        notes = [{"type": "class", "label": label, "coordinates": []} for label in labels]
        path.with_name(path.name + ".json").write_text(json.dumps({"annotations": notes}))
    return path


@dataclass
class Labeling:
    """One test's folder, dataset and state, driven through the command line."""

    gate: RunningGate
    project: Any
    dataset_name: str
    source: Path
    state: Path
    capsys: pytest.CaptureFixture[str]

    def run(self, argv: list[str]) -> Outcome:
        """``dlsync ARGV`` in-process (JSON logs, warnings and up): exit code and output."""
        self.capsys.readouterr()
        try:
            cli.main(["--log-level", "warning", "--log-json", *argv])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            logs.configure(json=True, level="warning", stream=sys.__stderr__)
        captured = self.capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    def task(self, name: str) -> str:
        """A task name of this test's own (task names are unique in the shared project)."""
        return f"{name}-{self.dataset_name}"

    def target(self) -> list[str]:
        """The flags naming this test's pair."""
        return [str(self.source), "--remote", self.gate.url, "--project", self.project.name,
                "--dataset", self.dataset_name, "--state", str(self.state)]

    def mirror(self, *flags: str) -> Outcome:
        """``dlsync mirror`` of the test's folder (the dataset is created on the first run)."""
        return self.run(["mirror", *self.target(), "--create", "--no-progress", *flags])

    def pull(self, *flags: str) -> Outcome:
        """``dlsync pull`` into the test's folder."""
        return self.run(["pull", *self.target(), *flags])

    def dataset(self) -> Any:
        """The dataset, fetched again (dtlpy caches labels and recipes on the entity)."""
        return self.project.datasets.get(dataset_name=self.dataset_name)


@pytest.fixture
def labeling(gate: RunningGate, project: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             capsys: pytest.CaptureFixture[str]) -> Labeling:
    """A fresh folder and dataset name, with the token of ``EMAIL`` in the environment."""
    monkeypatch.setenv("DLSYNC_TOKEN", gate.mint_token(email=EMAIL, ttl=3600))
    source = tmp_path / "data"
    source.mkdir()
    return Labeling(gate, project, unique("ds"), source, tmp_path / "state.db", capsys)
