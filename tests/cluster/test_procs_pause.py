"""Issue 13, test 5: a node SIGSTOPped past its lease, then resumed, under load. The other nodes
take its actors over while it is stopped; on resume it must stop handling them before doing
anything else. Every handling is recorded with its interval (``CLOCK_BOOTTIME``, shared by the
processes and counting through the pause): no two processes handle one actor at once.

The one exception is stated in docs/cluster.md: a lease cannot stop a handler that was already
running when the pause began. Such a handling (on the paused node, started before the SIGSTOP,
ended after the SIGCONT) is left out of the check, at most one per actor of the paused node;
anything the resumed node starts must not overlap."""

from __future__ import annotations

import signal
from pathlib import Path

import anyio
import pytest

from letta_actors.cluster import LocalNatsServer

from ..helpers import wait_until
from .procs import DEADLINE, Sender, TeamSpec, open_cluster, until
from .recording import now_ns

pytestmark = pytest.mark.anyio

SPEC = TeamSpec(actors=6, work=0.01, ttl=3.0, renew_interval=0.5)


async def test_a_node_paused_past_its_lease_never_handles_alongside_the_new_owner(
    nats_server: LocalNatsServer, tmp_path: Path
) -> None:
    async with open_cluster(tmp_path, nats_server, SPEC) as cluster:
        owners = await cluster.settled()
        paused = cluster["n2"]
        its_actors = {a for a, node in owners.items() if node == paused.name}
        assert its_actors
        survivor = cluster["n1"]
        sender = Sender(cluster, concurrency=4)
        stop_load = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(sender.tell_all, until(SPEC, stop_load))
            await sender.reached(200).wait()
            paused.signal(signal.SIGSTOP)
            await wait_until(lambda: paused.state() == "T", what="the node stopped")
            stopped_at = now_ns()  # after the pause began: it handles nothing from here

            async def taken_over() -> bool:
                held = await cluster.owners(survivor)
                if any(held[a] in (None, paused.name) for a in its_actors):
                    return False
                handled = {
                    line["actor"]
                    for line in cluster.records().lines
                    if line["pid"] != paused.pid and line["start"] > stopped_at
                }
                return its_actors <= handled

            await wait_until(taken_over, timeout=DEADLINE, what="the survivors handling them")
            resumed_at = now_ns()  # before the pause ends
            paused.signal(signal.SIGCONT)
            paused.accepting = True
            # It rejoins and takes its share back by hand-over, under load.
            await cluster.settled()
            await sender.reached(sender.accepted + 300).wait()
            stop_load.set()
        records = await cluster.handled(sender.accepted_by)

    cut_by_pause = [
        line
        for line in records.lines
        if line["pid"] == paused.pid and line["start"] < stopped_at and line["end"] > resumed_at
    ]
    assert len(cut_by_pause) <= len(its_actors), cut_by_pause
    assert records.overlaps(exempt=cut_by_pause) == []
    # The resumed node handled again once it got actors back.
    assert any(line["pid"] == paused.pid and line["start"] > resumed_at for line in records.lines)
