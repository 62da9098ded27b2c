"""aiohttp's default trust is read at the first handshake, and is as strict as ever.

Each case runs in a fresh interpreter (a process imports aiohttp once): it imports dlsync's
client, then points ``SSL_CERT_FILE`` at a certificate authority, then makes a real HTTPS
request with aiohttp's default verified context to a loopback server. Had the trust been read
at import, the authority set afterwards would not count and the request would fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.remote.network import self_signed

CLIENT = textwrap.dedent("""
    import asyncio, json, os, ssl, sys
    import dlsync.remote.session  # noqa: F401  (imports aiohttp the way dlsync does)
    import aiohttp
    from aiohttp import web

    server_cert, server_key, trusted, loop = sys.argv[1:5]
    os.environ["SSL_CERT_FILE"] = trusted    # only now, after aiohttp's import
    os.environ["SSL_CERT_DIR"] = os.devnull

    async def main():
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(server_cert, server_key)
        app = web.Application()
        app.router.add_get("/", lambda request: web.Response(text="hello"))
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
        await site.start()
        port = runner.addresses[0][1]
        resolver = aiohttp.ThreadedResolver()
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                    resolver=resolver)) as session:
                async with session.get(f"https://localhost:{port}/") as response:
                    return {"status": response.status, "body": await response.text()}
        except aiohttp.ClientConnectorCertificateError as exc:
            return {"refused": str(exc.certificate_error)}
        finally:
            await runner.cleanup()

    if loop == "uvloop":
        import uvloop
        print(json.dumps(uvloop.run(main())))
    else:
        print(json.dumps(asyncio.run(main())))
""")


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The server's self-signed certificate and key for ``localhost``, and another one's."""
    server = self_signed(tmp_path_factory.mktemp("server"), name="localhost")
    other = self_signed(tmp_path_factory.mktemp("other"), name="localhost")
    if server is None or other is None:
        pytest.skip("needs the openssl command to make certificates")
    return server[0], server[1], other[0]


def _request(certificates: tuple[Path, Path, Path], trusted: Path, loop: str
             ) -> dict[str, object]:
    cert, key, _ = certificates
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSL_CERT")}
    done = subprocess.run([sys.executable, "-c", CLIENT, str(cert), str(key), str(trusted), loop],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_default_trust_is_read_at_the_first_handshake(certificates: tuple[Path, Path, Path],
                                                      loop: str) -> None:
    """The authority named after aiohttp's import is the one the first handshake trusts."""
    assert _request(certificates, certificates[0], loop) == {"status": 200, "body": "hello"}


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_deferred_trust_still_refuses_an_unknown_certificate(
        certificates: tuple[Path, Path, Path], loop: str) -> None:
    """Trusting another authority, the same request is refused for its certificate."""
    result = _request(certificates, certificates[2], loop)
    assert set(result) == {"refused"}
    assert "certificate verify failed" in str(result["refused"])
