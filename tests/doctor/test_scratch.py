"""The probe's edges: a check that cannot run, and a scratch dataset that cannot be deleted."""

from __future__ import annotations

from dlsync.doctor.client import DoctorClient
from dlsync.doctor.probe import ProbeRequest, run_probe
from dlsync.doctor.rows import Report
from dlsync.gate.faults import FaultSettings
from dlsync.gate.server import RunningGate
from dlsync.remote.credentials import Credentials
from dlsync.remote.settings import RemoteSettings
from tests.doctor.conftest import PROJECT, DoctorRun, rows_of


async def test_a_check_that_cannot_run_is_unchecked(gate: RunningGate,
                                                    doctor: DoctorRun) -> None:
    """A caller without an e-mail address cannot be a task's assignee: the task row says so
    (unchecked, exit 1), every other row holds, and the scratch dataset is still deleted."""
    outcome = await doctor(gate, "--project", PROJECT, "--probe", "--json",
                           token=gate.mint_token(email="robot"))
    assert outcome.code == 1, outcome
    rows = rows_of(outcome)
    assert rows["refs_move_updated_at"]["verdict"] == "unchecked"
    assert rows["refs_move_updated_at"]["holds"] is None
    assert rows["refs_move_updated_at"]["seen"].startswith("could not check: ")
    assert [k for k, row in rows.items() if not row["holds"]] == ["refs_move_updated_at"]
    assert rows["delete_dataset"]["holds"] is True


async def test_a_scratch_dataset_left_behind_is_a_failing_row(gate: RunningGate) -> None:
    """When the scratch dataset cannot be deleted, the last row fails and names it."""
    project = gate.store.create_project(PROJECT, "tester@dlsync.test")
    gate.set_faults(FaultSettings(routes=("DELETE /datasets/{id}",), fail_first=5))
    settings = RemoteSettings(url=gate.url, max_attempts=1)
    report = Report(remote=gate.url, project=PROJECT, probe=True)
    async with DoctorClient(settings, Credentials(token=gate.mint_token())) as client:
        request = ProbeRequest(PROJECT, project["id"], "tester@dlsync.test", tick=0.02)
        await run_probe(client, request, report)
    last = report.rows[-1]
    assert last.key == "delete_dataset" and not last.holds
    assert report.scratch_dataset is not None and report.scratch_dataset in last.seen
    assert report.exit_code == 1
    assert [r["name"] for r in gate.store.rows("SELECT name FROM datasets")] == \
        [report.scratch_dataset]
