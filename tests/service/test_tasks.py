"""The service and the pair's task: every uploaded item joins it, and a batch does not look the
task up again once a cycle has found it."""

from __future__ import annotations

from pathlib import Path

from dlsync.gate.server import RunningGate
from dlsync.remote.refs import task_refs
from tests.service.conftest import Platform, running, write_config

LOOKUPS = ("POST /annotationtasks/query", "GET /datasets/{id}")


def lookups(gate: RunningGate) -> int:
    """Requests that look the task up: the tasks query and the dataset fetched by id."""
    by_route = gate.stats()["by_route"]
    return sum(sum(by_route.get(route, {}).values()) for route in LOOKUPS)


def tasks_of(item: dict[str, object]) -> set[str]:
    return {str(ref.get("id")) for ref in task_refs(item)}   # type: ignore[arg-type]


async def test_batches_add_items_to_the_task_without_looking_it_up_again(
        tmp_path: Path, gate: RunningGate, source: Path, platform: Platform) -> None:
    (source / "first.txt").write_bytes(b"one")
    config = write_config(tmp_path, gate, source, task="svc-review")
    async with running(config):
        first = await platform.wait_for(lambda found: "/first.txt" in found and
                                        bool(tasks_of(found["/first.txt"])))
        task = tasks_of(first["/first.txt"])
        gate.reset_stats()
        for n in range(3):
            (source / f"later{n}.txt").write_bytes(f"later {n}".encode())
            await platform.wait_for(lambda found, n=n: f"/later{n}.txt" in found and
                                    bool(tasks_of(found[f"/later{n}.txt"])))
        batches_lookups = lookups(gate)
    items = await platform.items()
    assert {name: tasks_of(item) for name, item in items.items()} == \
        {name: task for name in ("/first.txt", "/later0.txt", "/later1.txt", "/later2.txt")}
    assert batches_lookups == 0


async def test_after_a_refused_task_call_the_next_batch_looks_the_task_up_again(
        tmp_path: Path, gate: RunningGate, source: Path, platform: Platform) -> None:
    """The platform refuses the assignee: the items still go up, and nothing of the refused
    task is kept, so each batch asks the platform again."""
    (source / "first.txt").write_bytes(b"one")
    config = write_config(tmp_path, gate, source, task="svc-refused",
                          task_assignees=["someone@localhost"])
    async with running(config):
        await platform.wait_for(lambda found: "/first.txt" in found)
        gate.reset_stats()
        (source / "second.txt").write_bytes(b"two")
        items = await platform.wait_for(lambda found: "/second.txt" in found)
        assert lookups(gate) >= 1
    assert not tasks_of(items["/first.txt"]) and not tasks_of(items["/second.txt"])
