"""``dlsync doctor`` without --probe: the way to the remote, the token, the clock, the project."""

from __future__ import annotations

import pytest

from dlsync.doctor.checks import bypassed, proxy_row, tls_row
from dlsync.gate.behaviour import GateBehaviour
from dlsync.gate.server import RunningGate
from dlsync.remote.settings import RemoteSettings
from tests.commands import run_cli
from tests.doctor.conftest import PROJECT, DoctorRun, rows_of


async def test_checks_hold_against_the_gate(gate: RunningGate, doctor: DoctorRun) -> None:
    """Connectivity, TLS (http on loopback), proxy, auth, clock and project rows all hold and
    nothing is created."""
    outcome = await doctor(gate, "--project", PROJECT, "--json")
    assert outcome.code == 0, outcome
    rows = rows_of(outcome)
    assert list(rows) == ["tls", "proxy", "connectivity", "auth", "clock", "project",
                          "list_datasets"]
    assert all(row["holds"] for row in rows.values())
    assert "tester@dlsync.test" in rows["auth"]["seen"]
    assert "no refresh token" in rows["auth"]["seen"]
    assert gate.store.rows("SELECT id FROM datasets") == []


@pytest.mark.parametrize("kind", ["garbage", "expired", "foreign"])
async def test_a_rejected_token_exits_3(gate: RunningGate, doctor: DoctorRun,
                                        kind: str) -> None:
    """A token the remote refuses (or an expired one without a refresh token) is exit 3."""
    from dlsync.gate.auth import TokenAuthority, memory_secret

    token = {"garbage": "not-a-token", "expired": gate.mint_token(ttl=-60),
             "foreign": TokenAuthority(memory_secret()).mint("x@y.test", 3600)}[kind]
    outcome = await doctor(gate, "--project", PROJECT, "--probe", "--json", token=token)
    assert outcome.code == 3, outcome
    rows = rows_of(outcome)
    assert rows["auth"]["holds"] is False
    assert rows["connectivity"]["holds"] is False
    assert "project" not in rows


async def test_no_token_exits_3(gate: RunningGate, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    """Without any token the auth row says where dlsync looked, and the exit code is 3."""
    for name in ("DLSYNC_TOKEN", "DLSYNC_TOKEN_FILE", "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    outcome = await run_cli(["doctor", "--remote", gate.url, "--json"], capsys)
    assert outcome.code == 3, outcome
    assert "DLSYNC_TOKEN" in rows_of(outcome)["auth"]["seen"]


async def test_an_unknown_project_exits_1_without_probing(gate: RunningGate,
                                                          doctor: DoctorRun) -> None:
    """A project that is not there fails its row; the probe does not run and creates nothing."""
    outcome = await doctor(gate, "--project", "nowhere", "--probe", "--json")
    assert outcome.code == 1, outcome
    rows = rows_of(outcome)
    assert rows["project"]["holds"] is False
    assert "create_dataset" not in rows
    assert gate.store.projects("nowhere") == []


async def test_probe_needs_a_project(gate: RunningGate, doctor: DoctorRun) -> None:
    """--probe without --project is a usage error (exit 2)."""
    outcome = await doctor(gate, "--probe")
    assert outcome.code == 2
    assert "--project" in outcome.err


def test_plain_http_off_loopback_does_not_hold() -> None:
    """http to another host sends the token in the clear: the TLS row fails."""
    assert not tls_row(RemoteSettings(url="http://dataloop.example/api/v1")).holds
    assert tls_row(RemoteSettings(url="https://gate.dataloop.ai/api/v1")).holds
    assert tls_row(RemoteSettings(url="http://127.0.0.1:8765/api/v1")).holds


@pytest.mark.parametrize(("env", "reads_env", "seen"), [
    ({}, True, "no proxy"),
    ({"HTTPS_PROXY": "http://user:pw@proxy:3128"}, True, "http://proxy:3128 from $HTTPS_PROXY"),
    ({"https_proxy": "http://proxy:3128", "NO_PROXY": ".dataloop.ai"}, True,
     "none: NO_PROXY excludes gate.dataloop.ai"),
    ({"HTTPS_PROXY": "http://proxy:3128"}, False, "none: http://proxy:3128 from $HTTPS_PROXY "
     "is not read"),
])
def test_proxy_row_names_the_proxy_in_use(env: dict[str, str], reads_env: bool,
                                          seen: str) -> None:
    """The proxy row reports which proxy applies (never its password); it is information."""
    row = proxy_row(RemoteSettings(url="https://gate.dataloop.ai/api/v1"), env, reads_env)
    assert row.seen.startswith(seen), row
    assert "pw" not in row.seen
    assert row.holds


def test_loopback_is_never_proxied() -> None:
    """The local gate is reached directly whatever the proxy variables say."""
    row = proxy_row(RemoteSettings(url="http://127.0.0.1:8765/api/v1"),
                    {"HTTP_PROXY": "http://proxy:3128"}, True)
    assert row.seen.startswith("none: loopback")


def test_no_proxy_matching() -> None:
    """NO_PROXY entries match the host, its domain suffixes, or everything (``*``)."""
    assert bypassed("gate.dataloop.ai", "localhost,dataloop.ai")
    assert bypassed("gate.dataloop.ai", "*")
    assert not bypassed("gate.dataloop.ai", "example.com,loop.ai")


def test_behaviour_settings_parse() -> None:
    """``--behaviour KEY=VALUE`` strings become GateBehaviour fields; bad ones are refused."""
    parsed = GateBehaviour.from_settings(["overwrite_keeps_id=false", "annotation-batch-limit=none",
                                          "skip_op_header=existing"])
    assert parsed == GateBehaviour(overwrite_keeps_id=False, annotation_batch_limit=None,
                                   skip_op_header="existing")
    for bad in ("nonsense=1", "overwrite_keeps_id=maybe", "annotation_batch_limit=x", "novalue"):
        with pytest.raises(ValueError):
            GateBehaviour.from_settings([bad])


async def test_gate_serve_refuses_an_unknown_behaviour(capsys: pytest.CaptureFixture[str]) -> None:
    """A misspelt switch on ``dlsync gate serve`` is a usage error before anything listens."""
    outcome = await run_cli(["gate", "serve", "--memory", "--port", "0", "--behaviour",
                             "sort_by_updatedat=false"], capsys)
    assert outcome.code == 2
    assert "sort_by_updated_at" in outcome.err
