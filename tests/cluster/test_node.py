"""Cluster nodes: actors spread over the live nodes, hand-over on join, failover on death."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import pytest
from anyio.abc import TaskGroup

from letta_actors.cluster import ClusterConnection, ClusterNode, LocalNatsServer, place

from .helpers import DEADLINE, settings

pytestmark = pytest.mark.anyio

ACTORS = [f"agent-{i}" for i in range(12)]


class Cluster:
    """Nodes in one process, each on its own connection; a log of acquisitions and drains."""

    def __init__(self, server: LocalNatsServer, stack: AsyncExitStack, tg: TaskGroup) -> None:
        self.server = server
        self.stack = stack
        self.tg = tg
        self.nodes: dict[str, ClusterNode] = {}
        self.scopes: dict[str, anyio.CancelScope] = {}
        self.log: list[tuple[str, str, str]] = []  # (event, actor, node)
        self.changed = anyio.Event()

    def _record(self, event: str, actor: str, node: str) -> None:
        self.log.append((event, actor, node))
        self.changed.set()

    async def start(self, name: str) -> ClusterNode:
        s = settings(self.server, name)
        conn = await self.stack.enter_async_context(await ClusterConnection.open(s))

        async def drain(actor: str) -> None:
            self._record("drained", actor, name)

        node = ClusterNode(
            conn,
            s,
            ACTORS,
            drain=drain,
            on_acquired=lambda actor: self._record("acquired", actor, name),
        )
        scope = anyio.CancelScope()

        async def run(*, task_status: anyio.abc.TaskStatus[None]) -> None:
            with scope:
                await node.run(task_status=task_status)

        await self.tg.start(run)
        self.nodes[name] = node
        self.scopes[name] = scope
        return node

    def kill(self, name: str) -> None:
        """Stop the node's tasks without a goodbye (its leases expire by TTL)."""
        self.scopes.pop(name).cancel()
        del self.nodes[name]

    def owners(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {a: [] for a in ACTORS}
        for name, node in self.nodes.items():
            for actor in node.owned():
                found[actor].append(name)
        return found

    async def settled_on(self, live: list[str]) -> None:
        """Wait until every actor is owned by exactly the node placement says."""
        want = {a: [n] for a, n in place(ACTORS, live).items()}
        while self.owners() != want:
            self.changed = anyio.Event()
            await self.changed.wait()


@asynccontextmanager
async def cluster(server: LocalNatsServer) -> AsyncIterator[Cluster]:
    async with AsyncExitStack() as stack, anyio.create_task_group() as tg:
        yield Cluster(server, stack, tg)
        tg.cancel_scope.cancel()


async def test_a_joining_node_takes_its_share_by_hand_over(nats_server: LocalNatsServer) -> None:
    async with cluster(nats_server) as c:
        await c.start("n1")
        await c.start("n2")
        with anyio.fail_after(DEADLINE):
            await c.settled_on(["n1", "n2"])
        before = len(c.log)
        await c.start("n3")
        with anyio.fail_after(DEADLINE):
            await c.settled_on(["n1", "n2", "n3"])
        moves = c.log[before:]
        taken = [a for event, a, node in moves if event == "acquired"]
        assert taken
        assert set(taken) == {a for a, n in place(ACTORS, ["n1", "n2", "n3"]).items() if n == "n3"}
        for actor in taken:  # the old owner drained before the new one acquired
            drained = moves.index(next(m for m in moves if m[:2] == ("drained", actor)))
            assert drained < moves.index(("acquired", actor, "n3"))


async def test_the_actors_of_a_dead_node_move_to_the_survivors(
    nats_server: LocalNatsServer,
) -> None:
    async with cluster(nats_server) as c:
        for name in ("n1", "n2", "n3"):
            await c.start(name)
        with anyio.fail_after(DEADLINE):
            await c.settled_on(["n1", "n2", "n3"])
        before = len(c.log)
        c.kill("n2")
        with anyio.fail_after(DEADLINE):
            await c.settled_on(["n1", "n3"])
        assert [e for e in c.log[before:] if e[0] == "drained"] == []  # a failover, no hand-over


async def test_leave_hands_everything_back_at_once(nats_server: LocalNatsServer) -> None:
    async with cluster(nats_server) as c:
        await c.start("n1")
        n2 = await c.start("n2")
        with anyio.fail_after(DEADLINE):
            await c.settled_on(["n1", "n2"])
        mine = n2.owned()
        c.scopes.pop("n2").cancel()
        del c.nodes["n2"]
        await n2.leave()
        assert sorted(a for event, a, node in c.log if event == "drained" and node == "n2") == (
            sorted(mine)
        )
        with anyio.fail_after(DEADLINE):
            await c.settled_on(["n1"])


async def test_nodes_carry_on_after_a_nats_server_restart(nats_server: LocalNatsServer) -> None:
    async with cluster(nats_server) as c:
        await c.start("n1")
        await c.start("n2")
        with anyio.fail_after(DEADLINE):
            await c.settled_on(["n1", "n2"])
        await anyio.to_thread.run_sync(nats_server.restart)
        await c.start("n3")  # the running nodes must see it and hand over, as before
        with anyio.fail_after(DEADLINE):
            await c.settled_on(["n1", "n2", "n3"])
        assert all(node.membership.alive for node in c.nodes.values())
