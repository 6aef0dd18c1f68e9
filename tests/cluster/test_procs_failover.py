"""Issue 13, test 1: three daemon processes, 30 durable Python actors, 10,000 tells; one node
SIGKILLed midway. Every message is handled; the only duplicates are messages the killed node
had handled without its acknowledgement reaching JetStream, redelivered to the survivor that
took the actor over, and there are at most ``capacity`` of them per actor it owned."""

from __future__ import annotations

import signal
from pathlib import Path

import anyio
import pytest

from letta_actors.cluster import LocalNatsServer

from .procs import Sender, TeamSpec, open_cluster, workload

pytestmark = pytest.mark.anyio

SPEC = TeamSpec(actors=30, capacity=32)
TELLS = 10_000


async def test_a_node_sigkilled_midway_loses_no_tell(
    nats_server: LocalNatsServer, tmp_path: Path
) -> None:
    messages = workload(SPEC, TELLS)
    async with open_cluster(tmp_path, nats_server, SPEC) as cluster:
        owners = await cluster.settled()
        victim = cluster["n2"]
        its_actors = {a for a, node in owners.items() if node == victim.name}
        assert its_actors  # rendezvous hashing gives each of three nodes about ten
        sender = Sender(cluster)
        async with anyio.create_task_group() as tg:
            tg.start_soon(sender.tell_all, messages)
            await sender.reached(TELLS // 2).wait()
            assert await victim.kill() == -signal.SIGKILL
        assert sender.accepted == TELLS
        records = await cluster.handled(sender.accepted_by)

    # Each handled envelope carries the id the sender gave the API, from any node.
    assert all(line["id"] == f"procs-{line['key']}" for line in records.lines)
    dead = victim.pids[0]
    before_kill = [line for line in records.lines if line["pid"] == dead]
    assert before_kill, "the victim handled nothing before it was killed"
    # Its actors were taken over: the survivors handled messages of each of them.
    after = {line["actor"] for line in records.lines if line["pid"] != dead}
    assert its_actors <= after
    duplicates = records.duplicates()
    per_actor: dict[str, int] = {}
    for lines in duplicates.values():
        first, *again = sorted(lines, key=lambda line: line["start"])
        # Handled by the killed node, then once more by a survivor that was told it may be
        # a redelivery; never twice by a live node.
        assert first["pid"] == dead, lines
        assert len(again) == 1 and again[0]["pid"] != dead and again[0]["attempt"] > 1, lines
        per_actor[first["actor"]] = per_actor.get(first["actor"], 0) + 1
    assert set(per_actor) <= its_actors
    assert all(count <= SPEC.capacity for count in per_actor.values()), per_actor
    assert len(records.lines) == TELLS + len(duplicates)
