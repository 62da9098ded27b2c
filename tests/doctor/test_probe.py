"""``dlsync doctor --probe``: all guesses hold on a default gate; each gate switch flips its row."""

from __future__ import annotations

from typing import Any

import pytest

from dlsync.doctor.probe import GUESSES
from dlsync.gate.behaviour import GateBehaviour
from dlsync.gate.server import GateOptions, RunningGate
from tests.conftest import GateFactory
from tests.doctor.conftest import PROJECT, DoctorRun, rows_of

PROBE = ("--project", PROJECT, "--probe", "--json")


def _scratch_datasets(gate: RunningGate) -> list[str]:
    return [str(r["name"]) for r in gate.store.rows("SELECT name FROM datasets")
            if str(r["name"]).startswith("dlsync-probe-")]


async def test_every_row_holds_on_a_default_gate(gate: RunningGate, doctor: DoctorRun) -> None:
    """Against the gate as shipped every check and every guess holds (exit 0), and the scratch
    dataset is gone afterwards."""
    outcome = await doctor(gate, *PROBE)
    assert outcome.code == 0, outcome
    rows = rows_of(outcome)
    assert [k for k in rows if k in GUESSES] == list(GUESSES)
    assert all(row["holds"] is True for row in rows.values()), rows
    assert {row["gate_switch"] for row in rows.values() if row["key"] in GUESSES} == set(GUESSES)
    assert rows["delete_dataset"]["holds"] is True
    assert _scratch_datasets(gate) == []


def test_every_guess_has_a_gate_switch() -> None:
    """Each probe row is named after the GateBehaviour field that flips it in the gate."""
    assert set(GUESSES) <= set(GateBehaviour().to_json())


FLIPS: list[tuple[dict[str, Any], str, str]] = [
    ({"skip_op_header": "existing"}, "skip_op_header", "existing, same item id"),
    ({"skip_op_header": ""}, "skip_op_header", "no header, same item id"),
    ({"overwrite_keeps_id": False}, "overwrite_keeps_id", "created, another item id, 0 of 1 kept"),
    ({"upload_applies_metadata": False}, "upload_applies_metadata",
     "not stored on create, not stored on overwrite"),
    ({"annotation_delete_moves_item": False}, "annotation_delete_moves_item", "updatedAt stays"),
    ({"sort_by_updated_at": False}, "sort_by_updated_at", "b not first: a, b, c"),
    ({"annotation_batch_limit": None}, "annotation_batch_limit", "100 accepted, 101 accepted"),
    ({"annotation_batch_limit": 50}, "annotation_batch_limit",
     "100 refused (HTTP 400), 101 refused (HTTP 400)"),
    ({"refs_move_updated_at": False}, "refs_move_updated_at", "updatedAt stays"),
    ({"exif_displayed_frame": False}, "exif_displayed_frame", "4x2 (stored frame)"),
]


@pytest.mark.parametrize(("behaviour", "key", "seen"), FLIPS,
                         ids=[f"{k}={next(iter(b.values()))!r}" for b, k, _ in FLIPS])
async def test_a_flipped_switch_flips_its_row(gate_factory: GateFactory, doctor: DoctorRun,
                                              behaviour: dict[str, Any], key: str,
                                              seen: str) -> None:
    """A gate that behaves the other way on one guess fails that row alone (exit 1), and the
    row says what the platform did."""
    gate = await gate_factory(GateOptions(behaviour=GateBehaviour(**behaviour)))
    outcome = await doctor(gate, *PROBE)
    assert outcome.code == 1, outcome
    rows = rows_of(outcome)
    assert rows[key]["holds"] is False
    assert rows[key]["verdict"] == "differs"
    assert rows[key]["seen"].startswith(seen), rows[key]
    assert rows[key]["gate_switch"] == key
    assert [k for k, row in rows.items() if not row["holds"]] == [key]
    assert _scratch_datasets(gate) == []


async def test_the_table_names_each_assumption(gate: RunningGate, doctor: DoctorRun) -> None:
    """Without --json the report is a table of assumption, expected and seen, one line each."""
    outcome = await doctor(gate, "--project", PROJECT, "--probe")
    assert outcome.code == 0, outcome
    lines = outcome.out.splitlines()
    assert "ASSUMPTION" in lines[1] and "EXPECTED" in lines[1] and "SEEN" in lines[1]
    for assumption, expected, _ in GUESSES.values():
        line = next(line for line in lines if assumption in line)
        assert line.startswith("ok") and expected in line
    assert lines[-1].startswith("all ") and lines[-1].endswith(" rows hold")
