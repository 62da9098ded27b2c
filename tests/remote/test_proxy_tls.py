"""Proxies from the environment and per-remote TLS trust, through a real proxy and TLS gate.

The client is configured the way ``dlsync`` configures it (``connect.settings_for`` with a
``RemoteConfig`` and an environment), and the remote is named ``gate.dlsync.test``, which only
the test proxy can resolve (``tests/remote/network.py``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from dlsync.config import RemoteConfig
from dlsync.errors import TransportError
from dlsync.gate.server import RunningGate
from dlsync.remote.client import DataloopClient
from dlsync.remote.connect import settings_for
from dlsync.remote.credentials import Credentials
from dlsync.remote.proxy import proxy_for
from tests.remote.conftest import unique
from tests.remote.network import GATE_NAME, LOOPBACK, ForwardProxy, self_signed, tls_gate


@pytest.mark.parametrize(("url", "env", "expected"), [
    ("https://gate.dataloop.ai/api/v1", {"HTTPS_PROXY": "http://p:3128"}, "http://p:3128"),
    ("https://gate.dataloop.ai/api/v1", {"HTTP_PROXY": "http://p:3128"}, None),
    ("http://gate.example:8080/api/v1", {"HTTP_PROXY": "p:3128"}, "http://p:3128"),
    ("https://x.example", {"https_proxy": "http://low", "HTTPS_PROXY": "http://up"}, "http://low"),
    ("https://a.corp.example", {"HTTPS_PROXY": "http://p", "NO_PROXY": ".corp.example"}, None),
    ("https://corp.example", {"HTTPS_PROXY": "http://p", "NO_PROXY": "corp.example"}, None),
    ("https://notcorp.example", {"HTTPS_PROXY": "http://p", "NO_PROXY": "corp.example"},
     "http://p"),
    ("https://10.1.2.3/api", {"HTTPS_PROXY": "http://p", "NO_PROXY": "10.0.0.0/8"}, None),
    ("https://h.example:8443", {"HTTPS_PROXY": "http://p", "NO_PROXY": "h.example:8443"}, None),
    ("https://h.example", {"HTTPS_PROXY": "http://p", "NO_PROXY": "h.example:8443"}, "http://p"),
    ("https://h.example", {"HTTPS_PROXY": "http://p", "NO_PROXY": "*"}, None),
    ("http://127.0.0.1:8765/api/v1", {"HTTP_PROXY": "http://p"}, None),
    ("http://127.5.0.1:8765/api/v1", {"HTTP_PROXY": "http://p"}, None),
    ("http://[::1]:8765/api/v1", {"HTTP_PROXY": "http://p"}, None),
    ("http://localhost:8765/api/v1", {"HTTP_PROXY": "http://p"}, None),
    ("http://api.localhost/api/v1", {"HTTP_PROXY": "http://p"}, None),
])
def test_proxy_choice(url: str, env: dict[str, str], expected: str | None) -> None:
    """The proxy follows HTTP(S)_PROXY and NO_PROXY; loopback hosts are never proxied."""
    assert proxy_for(url, env) == expected


async def test_requests_go_through_the_environment_proxy(gate: RunningGate,
                                                         tmp_path: Path) -> None:
    """With HTTP_PROXY set, every request, upload included, reaches the gate via the proxy,
    and the proxy receives the credentials of the proxy URL."""
    async with ForwardProxy(hosts={GATE_NAME: LOOPBACK}) as proxy:
        host, port = proxy.url.removeprefix("http://").split(":")
        env = {"HTTP_PROXY": f"http://alice:s3cret@{host}:{port}"}
        remote = RemoteConfig(name="corp", url=f"http://{GATE_NAME}:{gate.port}/api/v1")
        settings = settings_for(remote, env=env)
        async with DataloopClient(settings, Credentials(gate.mint_token())) as client:
            project = await client.get_project(unique("proxy"), create=True)
            dataset = await client.get_dataset(project["id"], unique("ds"), create=True)
            local = tmp_path / "a.bin"
            local.write_bytes(b"x" * 300_000)
            result = await client.upload(dataset["id"], local, "/a.bin")
    assert result.size == 300_000
    assert len(proxy.requests) >= 4
    assert all(r.split(" ")[1].startswith(f"http://{GATE_NAME}:{gate.port}/api/v1/")
               for r in proxy.requests)
    assert any(r.startswith("POST ") and "/items" in r for r in proxy.requests)
    assert set(proxy.auth) == {"Basic YWxpY2U6czNjcmV0"}


async def test_loopback_remote_is_never_proxied(gate: RunningGate) -> None:
    """The gate on 127.0.0.1 is reached directly although HTTP_PROXY is set and NO_PROXY is
    empty (a proxy cannot reach this machine's loopback)."""
    async with ForwardProxy(hosts={}) as proxy:
        remote = RemoteConfig(name="here", url=gate.url)
        settings = settings_for(remote, env={"HTTP_PROXY": proxy.url, "NO_PROXY": ""})
        assert settings.proxy is None
        async with DataloopClient(settings, Credentials(gate.mint_token())) as client:
            await client.get_project(unique("direct"), create=True)
    assert proxy.requests == []


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    made = self_signed(tmp_path)
    if made is None:
        pytest.skip("the openssl command is not installed")
    return made


async def test_https_through_connect_tunnel_with_ca_file(certificate: tuple[Path, Path]) -> None:
    """An https:// remote behind HTTPS_PROXY is reached through a CONNECT tunnel, and its
    self-signed certificate is trusted through the remote's ca_file."""
    cert, key = certificate
    async with tls_gate(cert, key) as gate, \
            ForwardProxy(hosts={GATE_NAME: LOOPBACK}) as proxy:
        remote = RemoteConfig(name="corp", url=f"https://{GATE_NAME}:{gate.port}/api/v1",
                              ca_file=cert)
        settings = settings_for(remote, env={"HTTPS_PROXY": proxy.url})
        async with DataloopClient(settings, Credentials(gate.mint_token())) as client:
            project = await client.get_project(unique("tls"), create=True)
    assert project["name"].startswith("tls-")
    assert proxy.requests and all(r == f"CONNECT {GATE_NAME}:{gate.port}"
                                  for r in proxy.requests)


async def test_untrusted_certificate_fails_unless_verify_ssl_is_off(
        certificate: tuple[Path, Path]) -> None:
    """Without ca_file the self-signed certificate is refused (a TransportError naming the
    certificate); verify_ssl = false accepts it."""
    cert, key = certificate
    async with tls_gate(cert, key) as gate, \
            ForwardProxy(hosts={GATE_NAME: LOOPBACK}) as proxy:
        url = f"https://{GATE_NAME}:{gate.port}/api/v1"
        env = {"HTTPS_PROXY": proxy.url}
        strict = replace(settings_for(RemoteConfig(name="corp", url=url), env=env),
                         max_attempts=1)
        async with DataloopClient(strict, Credentials(gate.mint_token())) as client:
            with pytest.raises(TransportError, match=r"(?i)certificate"):
                await client.get_project(unique("tls"), create=True)
        lax = settings_for(RemoteConfig(name="corp", url=url, verify_ssl=False), env=env)
        async with DataloopClient(lax, Credentials(gate.mint_token())) as client:
            await client.get_project(unique("tls"), create=True)
