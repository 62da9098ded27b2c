"""The event loop of the client commands: uvloop by default, asyncio's on request."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dlsync import loops
from dlsync.errors import ConfigError


async def _running_loop() -> str:
    return loops.running()


def test_auto_runs_on_uvloop_where_it_is_installed() -> None:
    assert loops.choose({}) == "uvloop"
    assert loops.choose({loops.ENV: " Auto "}) == "uvloop"
    assert loops.run(_running_loop, environ={}) == "uvloop"


def test_asyncio_on_request() -> None:
    env = {loops.ENV: "asyncio"}
    assert loops.choose(env) == "asyncio"
    assert loops.run(_running_loop, environ=env) == "asyncio"


def test_an_unknown_loop_is_refused_by_name() -> None:
    with pytest.raises(ConfigError) as caught:
        loops.choose({loops.ENV: "trio"})
    message = str(caught.value)
    assert "DLSYNC_EVENT_LOOP='trio'" in message
    assert "auto, uvloop, asyncio" in message
    assert "Nothing was run" in message


def _without_uvloop(choice: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``loops.run`` in a process where ``import uvloop`` fails, as where it is not installed."""
    script = tmp_path / "probe.py"
    script.write_text(textwrap.dedent(f"""
        import json, sys
        sys.modules["uvloop"] = None  # import uvloop now raises ImportError
        from dlsync import loops
        from dlsync.errors import ConfigError

        async def running():
            return loops.running()

        try:
            print(json.dumps({{"loop": loops.run(running, environ={{loops.ENV: {choice!r}}})}}))
        except ConfigError as exc:
            print(json.dumps({{"error": str(exc)}}))
    """))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          check=True, timeout=60)


def test_auto_falls_back_to_asyncio_without_uvloop(tmp_path: Path) -> None:
    assert json.loads(_without_uvloop("auto", tmp_path).stdout) == {"loop": "asyncio"}


def test_uvloop_asked_for_but_missing_is_a_clear_error(tmp_path: Path) -> None:
    error = json.loads(_without_uvloop("uvloop", tmp_path).stdout)["error"]
    assert "uvloop is not installed" in error
    assert "DLSYNC_EVENT_LOOP=asyncio" in error
