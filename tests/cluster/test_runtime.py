"""ClusterRuntime in one process: two or three systems (nodes) on one real nats-server.

Same API on any node: tells, asks, durable tells reach the actor on whichever node owns it;
errors come back typed; hand-over on join; failover when a node stops renewing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import nats.errors
import pytest
from pydantic import BaseModel

from letta_actors import Actor, ActorSystem, DeadLetterReason, Intensity, SupervisionEscalated
from letta_actors.cluster import (
    ClusterRuntime,
    ClusterSettings,
    ClusterUnavailable,
    LeaseSettings,
    LocalNatsServer,
    PayloadTooLarge,
    Placed,
    RemoteError,
)
from letta_actors.cluster._batches import BATCH_BYTES
from letta_actors.durable import Codec
from letta_actors.supervisors import RestartType

from ..helpers import wait_until
from .helpers import DEADLINE, LONG, SHORT, settings

pytestmark = pytest.mark.anyio

NAMES = [f"w{i}" for i in range(6)]


class Worker(Actor[Any, Any]):
    """Records what it handled, on which node; answers asks with (node, message)."""

    def __init__(self, node: str, log: list[tuple[str, str, Any, int]], changed: Any) -> None:
        super().__init__()
        self.node = node
        self.log = log
        self.changed = changed

    async def receive(self, message: Any) -> Any:
        if message == "boom":
            raise ValueError("boom")
        if message == "block":
            self.log.append((self.node, self.name, message, 0))
            self.changed()
            await anyio.sleep_forever()
        envelope = self.envelope
        attempt = envelope.attempt if envelope is not None else 1
        self.log.append((self.node, self.name, message, attempt))
        self.changed()
        return [self.node, message]


class Team:
    """Nodes in one process; ``log`` collects (node, actor, message, attempt)."""

    def __init__(
        self, server: LocalNatsServer, durable: bool, restart: RestartType = "permanent"
    ) -> None:
        self.server = server
        self.durable = durable
        self.restart = restart
        self.log: list[tuple[str, str, Any, int]] = []
        self._event = anyio.Event()
        self.runtimes: dict[str, ClusterRuntime] = {}
        self.stacks: dict[str, AsyncExitStack] = {}

    def changed(self) -> None:
        self._event.set()

    async def spread(self, *nodes: ClusterRuntime) -> None:
        """Wait until every actor has an owner and every node owns some (leases and hand-overs
        happen on the nodes' own schedule: no event to wait on)."""

        def done() -> bool:
            owned = [n.owned() for n in nodes]
            return all(owned) and sum(map(len, owned)) == len(NAMES)

        await wait_until(done, timeout=DEADLINE, what="actors spread over the nodes")

    async def wait_for(self, predicate: Any) -> None:
        with anyio.fail_after(DEADLINE):
            while not predicate():
                self._event = anyio.Event()
                await self._event.wait()

    @asynccontextmanager
    async def pair(self) -> AsyncIterator[tuple[ClusterRuntime, ClusterRuntime]]:
        """Nodes n1 and n2, once the actors are spread over both."""
        async with self.node("n1") as n1, self.node("n2") as n2:
            await self.spread(n1, n2)
            yield n1, n2

    @asynccontextmanager
    async def node(
        self, name: str, leases: LeaseSettings = SHORT, **system_options: Any
    ) -> AsyncIterator[ClusterRuntime]:
        s: ClusterSettings = settings(self.server, name, leases)
        async with ActorSystem(name=name, **system_options) as system:

            def spawner(actor: str) -> Placed:
                async def spawn() -> None:
                    await system.spawn(
                        lambda: Worker(name, self.log, self.changed),
                        name=actor,
                        restart=self.restart,
                    )

                return Placed(spawn=spawn, durable=self.durable)

            async with ClusterRuntime(system, s, {a: spawner(a) for a in NAMES}) as runtime:
                self.runtimes[name] = runtime
                try:
                    yield runtime
                finally:
                    self.runtimes.pop(name, None)


@pytest.fixture(params=[False, True], ids=["core", "durable"])
def durable(request: pytest.FixtureRequest) -> bool:
    value: bool = request.param
    return value


async def test_tell_and_ask_reach_the_owner_from_any_node(
    nats_server: LocalNatsServer, durable: bool
) -> None:
    team = Team(nats_server, durable)
    async with team.pair() as (n1, n2):
        owners = await n1.owners()
        assert set(owners.values()) == {"n1", "n2"}
        for actor in NAMES:
            for sender in (n1, n2):
                reply = await sender.system.ref(actor).ask(f"hi from {sender.node_name}")
                assert reply == [owners[actor], f"hi from {sender.node_name}"]
        for i in range(20):
            await n1.system.ref(NAMES[0]).tell(i)
        await team.wait_for(lambda: sum(1 for e in team.log if e[1] == NAMES[0]) >= 22)
        told = [e[2] for e in team.log if e[1] == NAMES[0] and isinstance(e[2], int)]
        assert told == list(range(20)), "one sender's tells arrive once each, in order"
        remote = next(a for a in NAMES if owners[a] == "n2")
        with pytest.raises(RemoteError, match="ValueError: boom"):
            await n1.system.ref(remote).ask("boom")
        assert n1.stats.remote_sends > 0 and n2.stats.remote_received > 0


async def test_a_payload_that_cannot_travel_is_refused_at_the_send(
    nats_server: LocalNatsServer,
) -> None:
    team = Team(nats_server, durable=True)
    async with team.pair() as (n1, n2):
        remote = n2.owned()[0]
        with pytest.raises(TypeError, match="cannot be stored"):
            await n1.system.ref(remote).tell({1: "int key"})
        with pytest.raises(PayloadTooLarge):
            await n1.system.ref(remote).tell("x" * (n1.conn.max_payload + 1))


async def test_a_joining_node_takes_its_share_by_hand_over(nats_server: LocalNatsServer) -> None:
    team = Team(nats_server, durable=True)
    async with team.node("n1") as n1:
        for actor in NAMES:
            n1.system.bus.subscribe("all", actor)
        await team.spread(n1)
        for i, actor in enumerate(NAMES):
            await n1.system.ref(actor).tell(i)
        async with team.node("n2") as n2:
            await team.spread(n1, n2)
            for i, actor in enumerate(NAMES):
                await n2.system.ref(actor).tell(100 + i)
            # n1 handed some over: their topic subscriptions still reach them, on n2.
            assert await n1.system.bus.publish("all", "to all") == len(NAMES)
            await team.wait_for(lambda: len(team.log) >= 3 * len(NAMES))
            assert n1.stats.handovers > 0
            assert {e[1] for e in team.log if e[2] == "to all"} == set(NAMES)
        counts: dict[Any, int] = {}
        for entry in team.log:
            counts[entry[2]] = counts.get(entry[2], 0) + 1
        assert counts.pop("to all") == len(NAMES)
        assert all(n == 1 for n in counts.values()), f"handled twice: {counts}"


async def test_a_node_that_stops_renewing_fails_over_and_its_durable_messages_follow(
    nats_server: LocalNatsServer,
) -> None:
    team = Team(nats_server, durable=True)
    async with team.node("n1") as n1:
        async with team.node("n2") as n2:
            await team.spread(n1, n2)
            victim = n2.owned()[0]
            # n2 "dies": its connection goes away without releasing anything.
            await n2.conn.client.close()
            for i in range(5):
                await n1.system.ref(victim).tell(f"after-{i}")
            await team.wait_for(
                lambda: sum(1 for e in team.log if e[0] == "n1" and e[1] == victim) >= 5
            )
            assert n1.stats.failovers >= 1
        got = [e[2] for e in team.log if e[1] == victim]
        assert got == [f"after-{i}" for i in range(5)]


async def test_a_node_whose_supervision_gives_up_releases_its_actors(
    nats_server: LocalNatsServer,
) -> None:
    team = Team(nats_server, durable=True)
    async with team.node("n1", LONG) as n1:
        with pytest.raises(SupervisionEscalated, match="root' gave up"):
            async with team.node("n2", LONG, intensity=Intensity(max_restarts=0)) as n2:
                await team.spread(n1, n2)
                mine = n2.owned()
                await n2.system.ref(mine[0]).tell("boom")  # crashes; the root may not restart
                await n2.system.wait_stopped()
                # Released, not left to expire: n1 takes them over as "released" leases.
                await wait_until(
                    lambda: set(mine) <= set(n1.owned()), timeout=DEADLINE, what="take-over"
                )
                assert all(n1.node.taken_from[actor] == "released" for actor in mine)
                assert n1.stats.failovers == 0
                for actor in mine:
                    assert (await n1.system.ref(actor).ask("still there?"))[0] == "n1"


async def test_an_ask_queued_on_a_node_that_loses_the_actor_is_answered_by_the_next_owner(
    nats_server: LocalNatsServer,
) -> None:
    team = Team(nats_server, durable=False)  # "block" is not told again after the stop
    async with team.pair() as (n1, n2):
        actor = n1.owned()[0]
        await n1.system.ref(actor).tell("block")
        await team.wait_for(lambda: any(e[2] == "block" for e in team.log))
        answers: list[Any] = []
        async with anyio.create_task_group() as tg:

            async def ask() -> None:
                answers.append(await n2.system.ref(actor).ask("after", timeout=DEADLINE))

            tg.start_soon(ask)
            await wait_until(
                lambda: (info := n1.system.info(actor)) is not None and info.mailbox_depth == 1,
                what="the ask queued behind the blocked handling",
            )
            n1.node.leases.drop_all("taken")  # as if another node took it: n1 stops it now
        # The queued ask was not failed with ActorStopped: it went to the next owner, marked
        # as possibly seen before.
        assert answers and answers[0][1] == "after"
        assert [e[3] for e in team.log if e[2] == "after"] == [2]


async def test_an_actor_stopped_for_good_under_its_supervisor_is_released_and_started_again(
    nats_server: LocalNatsServer,
) -> None:
    team = Team(nats_server, durable=True, restart="temporary")  # a crash ends it for good
    async with team.node("n1") as n1:
        await team.spread(n1)
        actor = NAMES[0]
        n1.system.bus.subscribe("all", actor)
        await n1.system.ref(actor).tell("boom")
        # Not left owned and dead: released, then acquired and spawned again by a pass.
        await wait_until(lambda: n1.stats.acquisitions > len(NAMES), what="acquired again")
        assert (await n1.system.ref(actor).ask("back?"))[1] == "back?"
        assert await n1.system.bus.publish("all", "still subscribed") == 1
        await n1.system.ref(actor).tell("after")
        await team.wait_for(lambda: any(e[2] == "after" for e in team.log))


class Order(BaseModel):
    item: str


async def test_an_ask_the_owner_cannot_read_fails_at_once_with_the_reason(
    nats_server: LocalNatsServer,
) -> None:
    """A model registered with the asker's codec only: the owner answers why, at once."""
    log: list[tuple[str, str, Any, int]] = []

    def placed(system: ActorSystem, node: str) -> dict[str, Placed]:
        async def spawn() -> None:
            await system.spawn(lambda: Worker(node, log, lambda: None), name="y")

        return {"y": Placed(spawn=spawn)}  # placed on n2 by rendezvous over n1, n2

    async with (
        ActorSystem(name="n1") as s1,
        ActorSystem(name="n2") as s2,
        ClusterRuntime(s1, settings(nats_server, "n1"), placed(s1, "n1"),
                       codec=Codec([Order])) as n1,
        ClusterRuntime(s2, settings(nats_server, "n2"), placed(s2, "n2")) as n2,
    ):  # fmt: skip
        await wait_until(lambda: n2.owned() == ["y"] and not n1.owned(), what="y on n2")
        with pytest.raises(RemoteError, match="DecodeError"):
            await s1.ref("y").ask(Order(item="tea"), timeout=DEADLINE)


async def test_tells_gathered_in_one_turn_arrive_in_order_and_before_a_later_ask(
    nats_server: LocalNatsServer,
) -> None:
    team = Team(nats_server, durable=False)
    async with team.pair() as (n1, n2):
        remote = n2.owned()[0]
        ref = n1.system.ref(remote)
        # ~1 MB of tells: several batches, the full ones sent at once, the rest when the loop
        # turns; the ask right after them must not overtake the last, unsent batch.
        count = 3000
        for i in range(count):
            await ref.tell(f"{i:05d}" + "x" * 300)
        assert (await ref.ask("after"))[1] == "after"
        handled = [e[2] for e in team.log if e[1] == remote]
        assert handled[-1] == "after", "the ask overtook tells sent before it"
        assert [int(m[:5]) for m in handled[:-1]] == list(range(count))
        assert n2.stats.remote_received == count + 1


async def test_tells_that_cannot_leave_the_node_are_dead_letters_not_sent(
    nats_server: LocalNatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = Team(nats_server, durable=False)
    async with team.pair() as (n1, n2):
        ref = n1.system.ref(n2.owned()[0])

        async def lost(*args: Any, **kwargs: Any) -> None:
            raise nats.errors.ConnectionClosedError

        sends_before = n1.stats.remote_sends
        monkeypatch.setattr(n1.conn.client, "publish", lost)
        await ref.tell("gathered")  # returns: it leaves when the loop turns, and cannot
        with pytest.raises(ClusterUnavailable):  # a full batch is sent at once: its sender hears
            await ref.tell("x" * (BATCH_BYTES + 1))
        dead = n1.system.dead_letters
        await wait_until(lambda: dead.by_reason(DeadLetterReason.NOT_SENT), what="not_sent")
        # The tell that raised is not a dead letter too: its sender knows.
        assert [d.envelope.payload for d in dead.by_reason(DeadLetterReason.NOT_SENT)] == [
            "gathered"
        ]
        assert n1.stats.remote_send_failures == 2
        assert n1.stats.remote_sends == sends_before, "a tell not sent is not counted as sent"
