"""The connection's refusals: Trio, an unreachable URL, a missing credential, a big payload;
several URLs: through a dead or hung server to a live one, and on to another when one stops."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

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

from ..helpers import wait_until
from .helpers import DEADLINE, settings

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


@contextmanager
def _hung_server() -> Iterator[str]:
    """A loopback URL whose TCP connections are accepted (by the kernel) and never answered:
    a server that hangs before its INFO."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"nats://127.0.0.1:{sock.getsockname()[1]}"


def _port(conn: ClusterConnection) -> int | None:
    url = conn.client.connected_url
    return url.port if url is not None else None


async def test_a_list_starting_with_a_dead_url_connects_through_a_live_one(
    nats_server: LocalNatsServer,
) -> None:
    dead = f"nats://127.0.0.1:{_closed_port()}"
    for order in ("listed", "random"):
        s = settings(nats_server, "n1", nats_url=[dead, nats_server.url], nats_url_order=order)
        with anyio.fail_after(DEADLINE):
            async with await ClusterConnection.open(s) as conn:
                assert _port(conn) == urlsplit(nats_server.url).port
                assert (await conn.js.account_info()).limits is not None


async def test_a_hung_server_first_leaves_time_for_the_next_url(
    nats_server: LocalNatsServer,
) -> None:
    # Each attempt gets connect_timeout / 2 URLs: the hung one cannot use up the whole budget.
    with _hung_server() as hung:
        s = settings(
            nats_server,
            "n1",
            nats_url=[hung, nats_server.url],
            nats_url_order="listed",
            connect_timeout=8.0,
        )
        with anyio.fail_after(DEADLINE):
            async with await ClusterConnection.open(s) as conn:
                assert _port(conn) == urlsplit(nats_server.url).port


async def test_all_urls_unreachable_is_one_error_naming_each() -> None:
    urls = [f"nats://127.0.0.1:{_closed_port()}" for _ in range(2)]
    s = ClusterSettings(nats_url=urls, node="n1", connect_timeout=2.0, reconnect_wait=0.2)
    with anyio.fail_after(30), pytest.raises(ClusterUnreachable, match="unreachable") as caught:
        await ClusterConnection.open(s)
    assert f"NATS at {urls[0]}, {urls[1]} is unreachable" in str(caught.value)
    assert caught.value.cause is not None
    for url in urls:  # an error seen for each server (connection refused at its port)
        assert str(urlsplit(url).port) in caught.value.cause


async def test_a_node_moves_to_the_next_server_when_its_server_dies(tmp_path: Path) -> None:
    with LocalNatsServer(tmp_path / "a") as first, LocalNatsServer(tmp_path / "b") as second:
        s = settings(first, "n1", nats_url=[first.url, second.url], nats_url_order="listed")
        async with await ClusterConnection.open(s) as conn:
            assert _port(conn) == urlsplit(first.url).port
            first.kill()  # the server goes down
            second_port = urlsplit(second.url).port

            def on_second() -> bool:
                return conn.is_connected and _port(conn) == second_port

            await wait_until(on_second, timeout=DEADLINE, what="a connection to the second")
            assert (await conn.js.account_info()).limits is not None


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


async def test_a_reconnection_to_a_server_without_tls_is_logged_as_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cert, key = _self_signed(tmp_path)
    tls_block = f'tls {{\n  cert_file: "{cert}"\n  key_file: "{key}"\n}}\n'
    with (
        LocalNatsServer(tmp_path / "tls", config=tls_block) as secure,
        LocalNatsServer(tmp_path / "plain") as plain,
    ):
        urls = [server.url.replace("nats://", "tls://") for server in (secure, plain)]
        tls = TLSSettings(ca_file=cert)
        s = settings(secure, "n1", nats_url=urls, nats_url_order="listed", tls=tls)
        async with await ClusterConnection.open(s) as conn:
            assert _port(conn) == urlsplit(secure.url).port
            secure.kill()

            def warned() -> bool:
                return any("in PLAINTEXT" in r.getMessage() for r in caplog.records)

            await wait_until(warned, timeout=DEADLINE, what="the plaintext reconnection logged")
            assert _port(conn) == urlsplit(plain.url).port


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
