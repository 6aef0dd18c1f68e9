"""The connection's refusals: Trio, an unreachable URL, a missing credential, a big payload."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import anyio
import pytest

from letta_actors.cluster import (
    ClusterConfigError,
    ClusterConnection,
    ClusterSettings,
    ClusterUnreachable,
    LocalNatsServer,
    PayloadTooLarge,
    TLSSettings,
)

from .helpers import settings

pytestmark = pytest.mark.anyio


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, never listened, released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_cluster_mode_on_trio_says_it_needs_asyncio() -> None:
    s = ClusterSettings(nats_url=f"nats://127.0.0.1:{_closed_port()}", node="n1")
    with pytest.raises(ClusterConfigError, match="cluster mode needs asyncio: nats-py is"):
        await ClusterConnection.open(s)


async def test_an_unreachable_url_is_one_clear_error_naming_it() -> None:
    url = f"nats://127.0.0.1:{_closed_port()}"
    s = ClusterSettings(nats_url=url, node="n1", connect_timeout=1.0, reconnect_wait=0.2)
    with anyio.fail_after(30), pytest.raises(ClusterUnreachable, match="unreachable") as caught:
        await ClusterConnection.open(s)
    assert url in str(caught.value)
    assert caught.value.cause is not None  # the last error seen (connection refused)


async def test_a_missing_credential_variable_is_named_before_connecting() -> None:
    s = ClusterSettings(node="n1", token_env="LETTA_ACTORS_TEST_NO_SUCH_TOKEN")
    with pytest.raises(ClusterConfigError, match="LETTA_ACTORS_TEST_NO_SUCH_TOKEN"):
        await ClusterConnection.open(s, environ={})


async def test_a_payload_over_the_servers_max_is_refused_before_sending(tmp_path: Path) -> None:
    with LocalNatsServer(tmp_path / "nats", max_payload=4096) as server:
        async with await ClusterConnection.open(settings(server, "n1")) as conn:
            assert conn.max_payload == 4096
            conn.check_payload(4096)
            with pytest.raises(PayloadTooLarge, match=r"4097 bytes .* max_payload \(4096"):
                conn.check_payload(4097)


async def test_a_reachable_server_connects_with_jetstream(nats_server: LocalNatsServer) -> None:
    async with await ClusterConnection.open(settings(nats_server, "n1")) as conn:
        assert conn.is_connected
        assert (await conn.js.account_info()).limits is not None
    assert not conn.is_connected


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    cert, key = directory / "server.pem", directory / "server.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_tls_options_pass_through_and_plaintext_is_refused(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    tls_block = f'tls {{\n  cert_file: "{cert}"\n  key_file: "{key}"\n}}\n'
    with LocalNatsServer(tmp_path / "tls", config=tls_block) as server:
        url = server.url.replace("nats://", "tls://")
        trusted = settings(server, "n1", nats_url=url, tls=TLSSettings(ca_file=cert))
        async with await ClusterConnection.open(trusted) as conn:
            assert conn.is_connected
        untrusted = settings(server, "n1", nats_url=url, tls=TLSSettings(), connect_timeout=1.0)
        with anyio.fail_after(30), pytest.raises(ClusterUnreachable) as caught:
            await ClusterConnection.open(untrusted)
        assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    with LocalNatsServer(tmp_path / "plain") as plain:
        url = plain.url.replace("nats://", "tls://")
        s = settings(plain, "n1", nats_url=url, tls=TLSSettings(ca_file=cert))
        with pytest.raises(ClusterConfigError, match="refusing a plaintext connection"):
            await ClusterConnection.open(s)


async def test_credentials_come_from_the_environment_and_a_wrong_one_is_named(
    tmp_path: Path,
) -> None:
    config = 'authorization {\n  token: "s3cret-token"\n}\n'
    with LocalNatsServer(tmp_path / "nats", config=config) as server:
        s = settings(server, "n1", token_env="NODE_TOKEN", connect_timeout=1.0)
        async with await ClusterConnection.open(s, environ={"NODE_TOKEN": "s3cret-token"}) as conn:
            assert conn.is_connected
        with anyio.fail_after(30), pytest.raises(ClusterUnreachable) as caught:
            await ClusterConnection.open(s, environ={"NODE_TOKEN": "wrong"})
        assert "Authorization" in str(caught.value)
        assert "wrong" not in str(caught.value)  # the secret is not echoed
