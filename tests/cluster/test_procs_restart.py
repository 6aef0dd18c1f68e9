"""Issue 13, test 3 (the cluster half; the lone daemon is tests/durable/test_daemon.py): the
whole cluster stopped and started again handles the durable messages queued before the stop.

Every actor is first told a message it holds forever (its handling never ends), so what is
told after it stays queued in JetStream; the test checks that nothing was handled before the
stop. All three nodes are then stopped at once, gracefully (SIGTERM: the held handling is
cancelled at the agent's stop deadline) or not (SIGKILL), and started again on a team file
whose actors do not hold: each queued message, and each held one, is handled exactly once.
"""

from __future__ import annotations

import signal
from dataclasses import replace
from pathlib import Path

import pytest

from letta_actors.cluster import LocalNatsServer

from ..helpers import wait_until
from .procs import Sender, TeamSpec, open_cluster, workload

pytestmark = pytest.mark.anyio

SPEC = TeamSpec(actors=6, hold=True, shutdown=0.5)
QUEUED = 20  # per actor


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_the_whole_cluster_stopped_and_started_again_handles_what_was_queued(
    nats_server: LocalNatsServer, tmp_path: Path, stop: signal.Signals
) -> None:
    held = [(actor, f"hold-{actor}") for actor in SPEC.names]
    queued = workload(SPEC, QUEUED * SPEC.actors, prefix="queued")
    async with open_cluster(tmp_path, nats_server, SPEC) as cluster:
        sender = Sender(cluster)
        for actor, key in held:
            await sender.tell(actor, key, hold=True)
        await wait_until(
            lambda: len(cluster.records().held) == SPEC.actors,
            timeout=60,
            what="every actor holding its first message",
        )
        await sender.tell_all(queued)  # each 202 comes once the message is stored
        assert cluster.records().lines == []  # nothing handled: all of it is queued
        nodes = list(cluster.nodes.values())
        for node in nodes:
            node.signal(stop)
        codes = [await node.exited() for node in nodes]
        assert codes == ([0] * 3 if stop == signal.SIGTERM else [-signal.SIGKILL] * 3)
        assert cluster.records().lines == []

        cluster.write_team(replace(SPEC, hold=False))
        await cluster.start()
        records = await cluster.handled(sender.accepted_by)

    assert records.duplicates() == {}
    again = {line["key"]: line for line in records.lines}
    # The held messages had been delivered once before: they come back marked as such.
    assert all(again[key]["attempt"] > 1 for _, key in held)
