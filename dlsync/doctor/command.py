"""``dlsync doctor``: diagnose the way to a remote, and with ``--probe`` the gate's guesses.

Order: TLS and proxy (from settings and environment), the token, one authenticated request
(connectivity, auth, clock skew), the project, then the probe. A token that is missing or refused
stops the run there (exit 3); anything else that fails is a row that does not hold (exit 1).
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from dlsync import constants
from dlsync.config import LOCAL, RemoteConfig
from dlsync.doctor import checks
from dlsync.doctor.client import DoctorClient
from dlsync.doctor.probe import ProbeRequest, run_probe
from dlsync.doctor.rows import Report, write_report
from dlsync.errors import AuthError, ConfigError, DlsyncError, UsageError
from dlsync.remote.connect import settings_for
from dlsync.remote.credentials import Credentials, load_credentials


@dataclass(frozen=True, slots=True)
class DoctorRequest:
    """What ``dlsync doctor`` was asked to look at."""

    remote: RemoteConfig
    project: str | None = None
    probe: bool = False
    tick: float = constants.DOCTOR_TICK_S
    gate_data: Path | None = None  # the embedded gate's data folder, for remote "local"


def remote_for(value: str) -> RemoteConfig:
    """The remote ``--remote`` names: "local" or an http(s) URL of an API base."""
    if value == constants.LOCAL_REMOTE:
        return LOCAL
    if not re.match(r"^https?://[^/\s]+", value):
        raise UsageError(f"--remote {value!r}: expected an https:// API base URL or \"local\"")
    return RemoteConfig(name=value, url=value.rstrip("/"))


@asynccontextmanager
async def _open(request: DoctorRequest, credentials: Credentials | None,
                ) -> AsyncIterator[DoctorClient]:
    """A DoctorClient for the remote (for "local": the embedded gate, started here)."""
    if not request.remote.is_local:
        assert credentials is not None
        async with DoctorClient(settings_for(request.remote), credentials) as client:
            yield client
        return
    from dlsync.gate.commands import default_data_dir
    from dlsync.gate.server import GateOptions, running_gate

    options = GateOptions(data_dir=request.gate_data or default_data_dir())
    async with running_gate(options) as gate:
        token = Credentials(token=gate.mint_token(email="local@dlsync.local"),
                            source="embedded gate")
        async with DoctorClient(settings_for(request.remote, gate.url), token) as client:
            yield client


async def diagnose(request: DoctorRequest, env: Mapping[str, str]) -> Report:
    """Every row for ``request``; stops early when it cannot authenticate."""
    report = Report(remote=request.remote.url, project=request.project, probe=request.probe)
    credentials = None
    if not request.remote.is_local:
        try:
            credentials = load_credentials(env, token_file=request.remote.token_file)
        except ConfigError as exc:
            report.add(checks.tls_row(settings_for(request.remote)))
            report.add(checks.no_token_row(exc))
            report.auth_failed = True
            return report
    async with _open(request, credentials) as client:
        await _diagnose_with(client, request, env, report)
    return report


async def _diagnose_with(client: DoctorClient, request: DoctorRequest,
                         env: Mapping[str, str], report: Report) -> None:
    report.remote = client.settings.base_url
    report.add(checks.tls_row(client.settings))
    report.add(checks.proxy_row(client.settings, env, client.reads_proxy_environment()))
    try:
        seen = await checks.contact(client)
    except DlsyncError as exc:
        report.add(checks.connectivity_row(exc))
        if isinstance(exc, AuthError):
            report.add(checks.auth_row(client.credentials, None, exc))
            report.auth_failed = True
        return
    report.add(checks.connectivity_row(seen))
    who = checks.who_of(seen.reply) or client.credentials.email
    report.add(checks.auth_row(client.credentials, who, None))
    report.add(checks.clock_row(seen))
    if request.project is None:
        return
    try:
        rows, project = await checks.project_rows(client, request.project)
        for row in rows:
            report.add(row)
        if project is not None and request.probe:
            probe = ProbeRequest(request.project, project["id"], who, request.tick)
            await run_probe(client, probe, report)
    except AuthError as exc:
        report.add(checks.auth_row(client.credentials, who, exc))
        report.auth_failed = True


def run_doctor(request: DoctorRequest, out: TextIO, *, as_json: bool) -> int:
    """Run the doctor, print its table (or JSON) to ``out``; the exit code."""
    from dlsync import loops

    if request.probe and request.project is None:
        raise UsageError("--probe needs --project: the scratch dataset is made in that project")
    report = loops.run(diagnose, request, dict(os.environ))
    write_report(report, out, as_json=as_json)
    return report.exit_code
