"""Cluster tests run against a real ``nats-server`` with JetStream (the ``cluster`` extra).

Each test that asks for ``nats_server`` gets its own server on a port the server picks, with
its store in the test's temp dir; :meth:`LocalNatsServer.start` returns once the server logs
that it is ready (or fails with its log), and the fixture stops it (SIGCONT first, in case a
test paused it). ``nats_server.restart()``, ``.kill()`` and ``.signal(SIGSTOP/SIGCONT)``
restart, kill and pause it; :func:`tests.cluster.helpers.signal_process` does the same for
any process a test started.

nats-py is asyncio-only: the ``anyio_backend`` fixture is overridden here so that async tests
run on asyncio and are reported skipped on Trio, with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from letta_actors.cluster import LocalNatsServer


@pytest.fixture(
    params=[
        "asyncio",
        pytest.param("trio", marks=pytest.mark.skip(reason="nats-py is asyncio-only")),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[LocalNatsServer]:
    server = LocalNatsServer(tmp_path / "nats")
    server.start()
    try:
        yield server
    finally:
        server.stop()
