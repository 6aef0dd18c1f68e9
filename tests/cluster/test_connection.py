"""The connection's refusals: Trio, an unreachable URL, a missing credential, a big payload."""

from __future__ import annotations

import socket
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
