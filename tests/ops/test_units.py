"""The systemd units in systemd/: the settings operations rely on, and systemd's own verdict."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "systemd"
ANALYZE = shutil.which("systemd-analyze")
INSTALLED = "/usr/local/bin/dlsync"

Unit = dict[str, dict[str, list[str]]]

HARDENING = {
    "ProtectSystem": "strict", "ProtectHome": "read-only", "PrivateTmp": "yes",
    "PrivateDevices": "yes", "NoNewPrivileges": "yes", "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes",
    "ProtectClock": "yes", "ProtectHostname": "yes", "ProtectProc": "invisible",
    "ProcSubset": "pid", "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "RestrictNamespaces": "yes", "RestrictRealtime": "yes", "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes",
    "SystemCallArchitectures": "native", "CapabilityBoundingSet": "", "AmbientCapabilities": "",
    "UMask": "0077", "StateDirectory": "dlsync", "ConfigurationDirectory": "dlsync",
    "LoadCredential": "dlsync-token:/etc/dlsync/token", "User": "dlsync",
    "Nice": "10",   # background work; the system call filter refuses dlsync's own call
}


def parse_unit(path: Path) -> Unit:
    """A unit file as section → key → every value given (systemd allows repeated keys)."""
    unit: Unit = defaultdict(lambda: defaultdict(list))
    section = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        assert sep and section, f"{path.name}: not a key=value line in a section: {raw!r}"
        unit[section][key.strip()].append(value.strip())
    return unit


def one(unit: Unit, section: str, key: str) -> str:
    """The single value of ``key``; fails when it is missing or given twice."""
    values = unit[section][key]
    assert len(values) == 1, f"[{section}] {key}: expected one value, got {values}"
    return values[0]


@pytest.mark.parametrize("name", ["dlsync.service", "dlsync-mirror@.service"])
def test_services_are_hardened(name: str) -> None:
    """Both services run as the dlsync user with the full sandbox and no capabilities."""
    unit = parse_unit(UNITS / name)
    for key, value in HARDENING.items():
        assert one(unit, "Service", key) == value, key
    assert unit["Service"]["SystemCallFilter"] == ["@system-service", "~@privileged @resources"]
    assert "IPAddressDeny" not in unit["Service"]


def test_service_settings() -> None:
    """The service notifies, is watched, restarts except on config/auth errors, stops in time."""
    service = parse_unit(UNITS / "dlsync.service")
    expected = {
        "Type": "notify", "NotifyAccess": "main", "WatchdogSec": "60",
        "Restart": "on-failure", "RestartPreventExitStatus": "2 3", "TimeoutStopSec": "45",
        "ExecReload": "/bin/kill -HUP $MAINPID",
        "ExecStart": f"{INSTALLED} run --config /etc/dlsync/dlsync.toml",
    }
    for key, value in expected.items():
        assert one(service, "Service", key) == value, key
    assert one(service, "Install", "WantedBy") == "multi-user.target"


def test_service_stop_timeout_exceeds_the_shutdown_timeout() -> None:
    """systemd waits longer than dlsync's own shutdown timeout before it kills."""
    from dlsync.constants import SHUTDOWN_TIMEOUT_S

    service = parse_unit(UNITS / "dlsync.service")
    assert float(one(service, "Service", "TimeoutStopSec")) > SHUTDOWN_TIMEOUT_S


def test_mirror_template_and_timer() -> None:
    """The template mirrors pair %i once, a held lock is success; the timer runs it hourly."""
    mirror = parse_unit(UNITS / "dlsync-mirror@.service")
    assert one(mirror, "Service", "Type") == "oneshot"
    assert one(mirror, "Service", "ExecStart") == (
        f"{INSTALLED} mirror --config /etc/dlsync/dlsync.toml --pair %i --no-progress")
    assert one(mirror, "Service", "SuccessExitStatus") == "5"
    assert "Restart" not in mirror["Service"]
    timer = parse_unit(UNITS / "dlsync-mirror@.timer")
    assert one(timer, "Timer", "OnCalendar") == "hourly"
    assert one(timer, "Timer", "Persistent") == "true"
    assert one(timer, "Timer", "RandomizedDelaySec")
    assert one(timer, "Install", "WantedBy") == "timers.target"


def test_sysusers_declares_the_service_user() -> None:
    """The sysusers.d snippet creates the user the units run as."""
    lines = [line.split() for line in (UNITS / "dlsync.sysusers.conf").read_text().splitlines()
             if line and not line.startswith("#")]
    assert [line[:2] for line in lines] == [["u", "dlsync"]]


def _installable_copies(tmp_path: Path) -> list[Path]:
    """Copies of the units with ExecStart pointing at this environment's dlsync, as a
    virtualenv install overrides it, and the template instantiated for a pair "cams"."""
    executable = Path(sys.executable).with_name("dlsync")
    target = executable if executable.exists() else Path(sys.executable)
    names = {"dlsync.service": "dlsync.service",
             "dlsync-mirror@.service": "dlsync-mirror@cams.service",
             "dlsync-mirror@.timer": "dlsync-mirror@cams.timer"}
    copies = []
    for name, copy in names.items():
        text = (UNITS / name).read_text().replace(INSTALLED, str(target))
        (tmp_path / copy).write_text(text)
        copies.append(tmp_path / copy)
    return copies


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path) -> None:
    """``systemd-analyze verify`` reports nothing about any unit."""
    assert ANALYZE is not None
    result = subprocess.run([ANALYZE, "verify", "--man=no", *map(str, _installable_copies(
        tmp_path))], capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_security_rates_the_service_ok(tmp_path: Path) -> None:
    """The offline security analysis rates the service's exposure at most 2.0 ("OK")."""
    assert ANALYZE is not None
    service = _installable_copies(tmp_path)[0]
    result = subprocess.run([ANALYZE, "security", "--offline=yes", str(service)],
                            capture_output=True, text=True, check=False, timeout=60)
    if "--offline" in result.stderr and "unrecognized" in result.stderr:
        pytest.skip("this systemd-analyze has no --offline (systemd < 250)")
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert found, result.stdout + result.stderr
    assert float(found.group(1)) <= 2.0
