"""Plans: ordering, counts, delete limits, and text and JSON rendering."""

from __future__ import annotations

import io
import json

import pytest

from dlsync.model import Action, ActionKind, RelPath
from dlsync.push.plan import (
    LimitVerdict,
    Plan,
    action_line,
    format_size,
    render_json,
    render_text,
)
from dlsync.push.summary import summary_lines
from dlsync.push.tally import Tally


def act(kind: ActionKind, path: str, reason: str, size: int = 0,
        source: str | None = None) -> Action:
    return Action(kind, RelPath(path), reason, size=size, item_id="i" if source else None,
                  source=RelPath(source) if source else None)


def sample_plan() -> Plan:
    plan = Plan()
    plan.add(act(ActionKind.DELETE, "a/e.jpg", "deleted locally", 5))
    plan.add(act(ActionKind.UPLOAD, "a/b.jpg", "new file", 12_595))
    plan.add(act(ActionKind.OVERWRITE, "a/c.jpg", "content changed", 1 << 20))
    plan.add(act(ActionKind.MOVE, "new/d.jpg", "moved from old/d.jpg", 9, source="old/d.jpg"))
    plan.add(act(ActionKind.ADOPT, "a/f.jpg", "remote item already has this content", 7))
    plan.add(act(ActionKind.CONFLICT, "a/g.jpg", "changed on both sides"))
    return plan


def test_deletes_come_last_and_counts_are_kept() -> None:
    """Iteration yields deletes after every other action; counts and bytes follow adds."""
    plan = sample_plan()
    assert [a.kind for a in plan][-1] is ActionKind.DELETE
    assert ActionKind.DELETE not in [a.kind for a in plan.without_deletes()]
    assert len(plan) == 6 and plan.deletes == 1 and plan.count(ActionKind.UPLOAD) == 1
    assert plan.transfer_bytes == 12_595 + (1 << 20)
    assert plan.counts() == {"upload": 1, "overwrite": 1, "move": 1, "adopt": 1, "delete": 1,
                             "conflict": 1}


def test_text_rendering_one_line_per_action() -> None:
    """The dry-run shows rclone-style markers with the reason and the size of transfers."""
    out = io.StringIO()
    render_text(sample_plan(), out)
    lines = out.getvalue().splitlines()
    assert lines[:6] == [
        "+ a/b.jpg  (new file, 12.3 KiB)",
        "* a/c.jpg  (content changed, 1.0 MiB)",
        "> old/d.jpg -> new/d.jpg  (moved from old/d.jpg)",
        "= a/f.jpg  (remote item already has this content)",
        "! a/g.jpg  (changed on both sides)",
        "- a/e.jpg  (deleted locally)",
    ]
    assert lines[6] == "6 actions, 1.0 MiB to transfer"
    assert any(line.split() == ["upload", "1"] for line in lines[7:])


def test_json_rendering_matches_the_plan() -> None:
    """The JSON form holds the same actions in the same order, and the summary."""
    plan = sample_plan()
    out = io.StringIO()
    render_json(plan, out, LimitVerdict(False, "items: 1 deletes would remove more than half"))
    document = json.loads(out.getvalue())
    assert [(a["kind"], a["path"]) for a in document["actions"]] == [
        (a.kind.value, a.path) for a in plan]
    assert document["actions"][2]["source"] == "old/d.jpg"
    assert document["summary"]["counts"] == plan.counts()
    assert document["summary"]["deletes_allowed"] is False


def test_empty_plan_renders() -> None:
    """An empty plan renders valid JSON and a zero summary."""
    out = io.StringIO()
    render_json(Plan(), out)
    assert json.loads(out.getvalue()) == {"actions": [], "summary": {
        "actions": 0, "transfer_bytes": 0, "counts": {}, "annotation_deletes": 0,
        "annotations_kept": 0, "excluded_kept": 0, "labels_added": 0,
        "task_items_added": 0}}
    text = io.StringIO()
    render_text(Plan(), text)
    assert text.getvalue() == "0 actions, 0 B to transfer\n"


@pytest.mark.parametrize(("size", "text"), [
    (0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (12_595, "12.3 KiB"),
    (5 * 1024**3, "5.0 GiB"), (3 * 1024**6, "3072.0 PiB"),
])
def test_format_size(size: int, text: str) -> None:
    """Sizes read in binary units with one decimal."""
    assert format_size(size) == text


def test_plan_and_summary_lines_stay_on_one_line_for_control_characters() -> None:
    """A file name with a newline, a tab or undecodable bytes prints as one escaped line."""
    name = RelPath("dir/evil\nname\t\udcff.jpg")
    line = action_line(Action(ActionKind.UPLOAD, name, "new file", size=3))
    assert "\n" not in line and "\t" not in line
    assert "evil\\nname\\t\\udcff.jpg" in line
    tally = Tally()
    tally.failed(ActionKind.UPLOAD, name, "cannot read\nsecond line")
    lines = summary_lines(tally, title="t")
    assert all("\n" not in one for one in lines)
    assert any("evil\\nname" in one and "cannot read\\nsecond line" in one for one in lines)
