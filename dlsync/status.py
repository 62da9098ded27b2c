"""``dlsync status``: what the state database says about each sync pair, and about the service.

It only reads: the database is opened read-only (``mode=ro`` plus ``query_only``) and, being in
WAL mode, never waits for the writer, so status works while the service or a mirror runs. It
never loads a token, and every error text it shows is scrubbed of anything shaped like one.

The service counts as running when its pid (from the heartbeat in ``meta``) is alive and the
heartbeat is younger than ``constants.DAEMON_STALE_S``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from dlsync import constants, logs
from dlsync.config import Config
from dlsync.model import FileStatus
from dlsync.state.ops import PAUSED_KEY, TASK_STATUS_KEY, RunKind
from dlsync.state.queries import DaemonInfo, FileError, RunRecord, StateReader
from dlsync.state.store import PairSpec
from dlsync.units import format_size

JSON_VERSION = 1
"""Version of the ``--json`` document; bumped only when a field changes meaning or goes away."""

PidAlive = Callable[[int], bool]


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists (one of another user counts too)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_only_connect(path: Path) -> sqlite3.Connection:
    """A connection that cannot write the database, whatever the query."""
    return sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True,
                           isolation_level=None, check_same_thread=False)


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """The service as its heartbeat shows it.

    ``state`` is "running" (pid alive, heartbeat fresh), "stale" (pid alive, heartbeat old: hung
    or another process reusing the pid), "dead" (pid gone without a clean stop: it crashed) or
    "stopped" (no heartbeat recorded: never started, or stopped cleanly).
    """

    state: str
    pid: int | None = None
    heartbeat: float | None = None
    heartbeat_age_s: float | None = None

    @property
    def running(self) -> bool:
        """Whether the service is up and beating."""
        return self.state == "running"


@dataclass(frozen=True, slots=True)
class Throughput:
    """Bytes and actions per second over the recent finished runs of a pair."""

    runs: int
    bytes_per_s: float
    actions_per_s: float


@dataclass(frozen=True, slots=True)
class PairStatus:
    """Everything status shows about one sync pair."""

    spec: PairSpec
    in_state: bool
    counts: dict[FileStatus, int]
    errors: tuple[FileError, ...]
    last_mirror: RunRecord | None
    last_reconcile: RunRecord | None
    throughput: Throughput
    paused: dict[str, Any] | None = None   # {"reason", "since"} while the service holds it
    task: dict[str, Any] | None = None     # {"task", "counts", "time"}: the last task census

    @property
    def tracked(self) -> int:
        """Files state tracks, not counting those deleted locally."""
        return sum(n for status, n in self.counts.items() if status is not FileStatus.DELETED)


@dataclass(frozen=True, slots=True)
class StatusReport:
    """The whole answer of ``dlsync status``."""

    state: Path
    exists: bool
    service: ServiceStatus
    pairs: tuple[PairStatus, ...]
    now: float


# Collecting ---------------------------------------------------------------------------------


def service_status(info: DaemonInfo | None, now: float,
                   alive: PidAlive = pid_alive) -> ServiceStatus:
    """Judge the service from its last heartbeat."""
    if info is None:
        return ServiceStatus("stopped")
    age = max(0.0, now - info.heartbeat)
    if not alive(info.pid):
        state = "dead"
    elif age > constants.DAEMON_STALE_S:
        state = "stale"
    else:
        state = "running"
    return ServiceStatus(state, info.pid, info.heartbeat, age)


def done_actions(run: RunRecord) -> int:
    """How many actions of ``run`` succeeded (``counts`` keys are ``kind.outcome``)."""
    return sum(n for key, n in run.counts.items() if key.endswith(".done"))


def throughput(runs: Iterable[RunRecord]) -> Throughput:
    """Bytes and successful actions per second over the finished runs among ``runs``."""
    finished = [run for run in runs if run.duration is not None and run.duration > 0]
    seconds = sum(run.duration or 0.0 for run in finished)
    if not finished:
        return Throughput(0, 0.0, 0.0)
    return Throughput(len(finished), sum(run.bytes for run in finished) / seconds,
                      sum(done_actions(run) for run in finished) / seconds)


def _pair_status_absent(spec: PairSpec) -> PairStatus:
    """A pair the config names but state has never seen."""
    return PairStatus(spec, False, dict.fromkeys(FileStatus, 0), (), None, None,
                      Throughput(0, 0.0, 0.0))


def _pair_status(reader: StateReader, spec: PairSpec, pair_id: int | None) -> PairStatus:
    if pair_id is None:
        return _pair_status_absent(spec)
    return PairStatus(
        spec, True, reader.status_counts(pair_id),
        tuple(reader.last_errors(pair_id, constants.STATUS_ERRORS)),
        reader.last_run(pair_id, RunKind.MIRROR), reader.last_run(pair_id, RunKind.RECONCILE),
        throughput(reader.recent_runs(pair_id, constants.STATUS_RUNS)),
        _paused(reader.meta(PAUSED_KEY + spec.name)),
        task_census(reader, pair_id))


def task_census(reader: StateReader, pair_id: int) -> dict[str, Any] | None:
    """The pair's last task census (items per task status, from the last listing), if any."""
    value = reader.meta(f"{TASK_STATUS_KEY}{pair_id}")
    return value if isinstance(value, dict) and isinstance(value.get("counts"), dict) else None


def task_items(state: Path) -> dict[tuple[str, str], int]:
    """Every pair's last task census as ``{(pair, status): items}`` (the metrics gauge)."""
    if not state.exists():
        return {}
    found: dict[tuple[str, str], int] = {}
    with StateReader(state, connect=read_only_connect) as reader:
        for pair_id, spec in reader.pairs():
            census = task_census(reader, pair_id)
            for status, count in (census or {}).get("counts", {}).items():
                found[(spec.name, str(status))] = int(count)
    return found


def _paused(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) and "reason" in value else None


def _spec_of(config: Config, name: str) -> PairSpec:
    pair = config.pairs[name]
    return PairSpec(name, str(pair.source), pair.remote.url, pair.project, pair.dataset,
                    pair.remote_dir)


def _pairs(reader: StateReader, config: Config | None) -> list[PairStatus]:
    """The config's pairs when one is given (state or not), else every pair in state."""
    known = {spec.name: (pair_id, spec) for pair_id, spec in reader.pairs()}
    if config is None:
        return [_pair_status(reader, spec, pair_id) for pair_id, spec in known.values()]
    return [_pair_status(reader, known[name][1] if name in known else _spec_of(config, name),
                         known[name][0] if name in known else None)
            for name in sorted(config.pairs)]


def collect(state: Path, config: Config | None = None, *, now: float | None = None,
            alive: PidAlive = pid_alive) -> StatusReport:
    """Read the status of every pair from the database at ``state`` (which may not exist)."""
    now = time.time() if now is None else now
    if not state.exists():
        pairs = [] if config is None else [
            _pair_status_absent(_spec_of(config, name)) for name in sorted(config.pairs)]
        return StatusReport(state, False, ServiceStatus("stopped"), tuple(pairs), now)
    with StateReader(state, connect=read_only_connect) as reader:
        service = service_status(reader.daemon(), now, alive)
        pairs = _pairs(reader, config)
    return StatusReport(state, True, service, tuple(pairs), now)


# JSON ---------------------------------------------------------------------------------------


def iso(moment: float | None) -> str | None:
    """Unix time as ISO 8601 in UTC to the second, or ``None``."""
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


def _run_json(run: RunRecord | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {"started": iso(run.started), "finished": iso(run.finished),
            "outcome": run.outcome.value if run.outcome else None,
            "duration_s": None if run.duration is None else round(run.duration, 3),
            "bytes": run.bytes, "actions": done_actions(run),
            "error": logs.scrub(run.error) if run.error else None}


def _error_json(error: FileError) -> dict[str, Any]:
    return {"path": error.path, "error": logs.scrub(error.error), "attempts": error.attempts,
            "at": iso(error.updated), "next_attempt": iso(error.next_attempt)}


def _pair_json(pair: PairStatus) -> dict[str, Any]:
    spec = pair.spec
    files = {"tracked": pair.tracked, **{s.value: n for s, n in pair.counts.items()}}
    return {
        "name": spec.name, "source": spec.source, "remote": spec.remote_url,
        "project": spec.project, "dataset": spec.dataset, "remote_dir": spec.remote_dir,
        "in_state": pair.in_state, "files": files,
        "last_errors": [_error_json(error) for error in pair.errors],
        "last_mirror": _run_json(pair.last_mirror),
        "last_reconcile": _run_json(pair.last_reconcile),
        "paused": None if pair.paused is None else {
            "reason": logs.scrub(str(pair.paused["reason"])),
            "since": iso(float(pair.paused.get("since") or 0))},
        "task": None if pair.task is None else {
            "name": pair.task["task"], "statuses": dict(sorted(pair.task["counts"].items())),
            "as_of": iso(float(pair.task.get("time") or 0))},
        "throughput": {"runs": pair.throughput.runs,
                       "bytes_per_s": round(pair.throughput.bytes_per_s, 1),
                       "actions_per_s": round(pair.throughput.actions_per_s, 3)},
    }


def report_json(report: StatusReport) -> dict[str, Any]:
    """The report as the documented ``--json`` document (docs/operations.md)."""
    service = report.service
    return {
        "version": JSON_VERSION, "state": str(report.state), "state_exists": report.exists,
        "service": {"state": service.state, "running": service.running, "pid": service.pid,
                    "heartbeat": iso(service.heartbeat),
                    "heartbeat_age_s": None if service.heartbeat_age_s is None
                    else round(service.heartbeat_age_s, 1)},
        "pairs": [_pair_json(pair) for pair in report.pairs],
    }


# Text ---------------------------------------------------------------------------------------

_COLUMNS = ("TRACKED", "SYNCED", "PENDING", "FAILED", "CONFLICT")
_SHOWN = (FileStatus.SYNCED, FileStatus.PENDING, FileStatus.FAILED, FileStatus.CONFLICT)


def _when(moment: float | None) -> str:
    if moment is None:
        return "-"
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _service_line(service: ServiceStatus) -> str:
    if service.pid is None:
        return "service: not running (no heartbeat recorded)"
    age = f"heartbeat {service.heartbeat_age_s or 0:.0f} s ago"
    meaning = {"running": "running", "stale": "not responding (heartbeat too old)",
               "dead": "not running (it stopped without a clean shutdown)"}[service.state]
    return f"service: {meaning}, pid {service.pid}, {age}"


def _table(pairs: tuple[PairStatus, ...]) -> list[str]:
    width = max([len("PAIR"), *(len(p.spec.name) for p in pairs)])
    lines = [f"{'PAIR':<{width}}  " + "  ".join(f"{c:>8}" for c in _COLUMNS)]
    for pair in pairs:
        numbers = [pair.tracked, *(pair.counts[s] for s in _SHOWN)]
        lines.append(f"{pair.spec.name:<{width}}  " + "  ".join(f"{n:>8}" for n in numbers))
    return lines


def _run_line(label: str, run: RunRecord | None) -> str:
    if run is None:
        return f"  {label:<15} never"
    if run.finished is None:
        return f"  {label:<15} running since {_when(run.started)}"
    outcome = run.outcome.value if run.outcome else "?"
    text = (f"  {label:<15} {outcome} at {_when(run.finished)}: {done_actions(run)} actions, "
            f"{format_size(run.bytes)} in {run.duration or 0:.1f} s")
    return text + (f" ({logs.scrub(run.error)})" if run.error else "")


def _details(pair: PairStatus) -> list[str]:
    spec = pair.spec
    lines = [f"{spec.name}: {spec.source} -> {spec.remote_url} "
             f"{spec.project}/{spec.dataset}:{spec.remote_dir}"]
    if not pair.in_state:
        return [*lines, "  never synced"]
    if pair.paused is not None:
        lines.append(f"  PAUSED since {_when(float(pair.paused.get('since') or 0))}: "
                     f"{logs.scrub(str(pair.paused['reason']))}")
    lines += [_run_line("last mirror", pair.last_mirror),
              _run_line("last reconcile", pair.last_reconcile)]
    if pair.task is not None:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(pair.task["counts"].items()))
        lines.append(f"  {'task':<15} {pair.task['task']}: {counts or 'no items'} "
                     f"(as of {_when(float(pair.task.get('time') or 0))})")
    speed = pair.throughput
    if speed.runs:
        lines.append(f"  {'throughput':<15} {format_size(int(speed.bytes_per_s))}/s, "
                     f"{speed.actions_per_s:.1f} actions/s over {speed.runs} "
                     f"run{'s' if speed.runs != 1 else ''}")
    if pair.errors:
        lines.append("  last errors:")
        lines += [f"    ! {e.path}: {logs.scrub(e.error)} ({e.attempts} attempts, "
                  f"{_when(e.updated)})" for e in pair.errors]
    return lines


def render_text(report: StatusReport, out: TextIO) -> None:
    """Write the report as a compact table followed by one block per pair."""
    if not report.exists:
        out.write(f"no state database at {report.state} yet: nothing has been synced\n")
    lines = [_service_line(report.service)]
    if report.pairs:
        lines += ["", *_table(report.pairs)]
        for pair in report.pairs:
            lines += ["", *_details(pair)]
    elif report.exists:
        lines.append("no sync pairs recorded yet")
    out.write("\n".join(lines) + "\n")


def show(state: Path, config: Config | None, out: TextIO, *, as_json: bool) -> int:
    """Collect and print the status; the exit code is 0 (status reports, it does not judge)."""
    report = collect(state, config)
    if as_json:
        out.write(json.dumps(report_json(report), ensure_ascii=False, indent=2) + "\n")
    else:
        render_text(report, out)
    return 0
