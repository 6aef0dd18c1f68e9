"""Issue 13, test 4: nats-server restarted mid-run under load (stopped, then started on the
same port with the same store). The nodes reconnect by themselves, and nothing durable is
lost: every accepted tell is handled (a tell that failed while NATS was away is resent by the
sender with the same ``message_id``); a repeat is only a message whose acknowledgement was cut
off, at most ``capacity`` per actor. Afterwards the three nodes see each other again, every
actor is placed, and each answers an ask."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import anyio
import pytest

from letta_actors.cluster import LocalNatsServer

from .procs import Sender, TeamSpec, open_cluster, workload

pytestmark = pytest.mark.anyio

SPEC = TeamSpec(actors=12, capacity=32)
TELLS = 3_000


async def test_nodes_reconnect_after_a_nats_restart_and_lose_nothing(
    nats_server: LocalNatsServer, tmp_path: Path
) -> None:
    messages = workload(SPEC, TELLS)
    async with open_cluster(tmp_path, nats_server, SPEC) as cluster:
        sender = Sender(cluster, concurrency=8)
        async with anyio.create_task_group() as tg:
            tg.start_soon(sender.tell_all, messages)
            await sender.reached(TELLS // 3).wait()
            await anyio.to_thread.run_sync(nats_server.restart)  # same port, same store
        assert sender.accepted == TELLS
        records = await cluster.handled(sender.accepted_by)
        # Reconnected: the same three nodes, every actor placed, each answering an ask.
        await cluster.settled()
        for i, actor in enumerate(SPEC.names):
            node = cluster.serving()[i % 3]
            assert await cluster.ask(actor, "where", node) in cluster.nodes
        assert all(node.alive for node in cluster.nodes.values())

    repeats = Counter(lines[0]["actor"] for lines in records.duplicates().values())
    assert all(count <= SPEC.capacity for count in repeats.values()), repeats
