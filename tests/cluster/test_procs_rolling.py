"""Issue 13, test 6: a rolling restart of all three nodes under load loses nothing. Each node in
turn is stopped gracefully (SIGTERM: it drains its actors, releases their leases and leaves;
the others take them over), started again, and takes its share back by hand-over, while tells
keep coming through the other nodes. A graceful hand-over is no crash: no message is handled
twice either."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from letta_actors.cluster import LocalNatsServer

from .procs import Sender, TeamSpec, open_cluster, until

pytestmark = pytest.mark.anyio

SPEC = TeamSpec(actors=12, work=0.002)


async def test_a_rolling_restart_under_load_loses_nothing(
    nats_server: LocalNatsServer, tmp_path: Path
) -> None:
    async with open_cluster(tmp_path, nats_server, SPEC) as cluster:
        sender = Sender(cluster, concurrency=8)
        stop_load = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(sender.tell_all, until(SPEC, stop_load))
            for node in cluster.nodes.values():
                await sender.reached(sender.accepted + 200).wait()
                assert await node.stop() == 0, node.log_tail()
                await cluster.start(node.name)
                await cluster.settled()
            await sender.reached(sender.accepted + 200).wait()
            stop_load.set()
        records = await cluster.handled(sender.accepted_by)

    assert records.duplicates() == {}
    # Every node ran twice and handled messages in both lives.
    for node in cluster.nodes.values():
        assert len(node.pids) == 2
        for pid in node.pids:
            assert any(line["pid"] == pid for line in records.lines), (node.name, pid)
